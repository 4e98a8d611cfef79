"""Every Kafka topic name the hub uses, derived from one prefix (tests use a unique prefix each)."""

from __future__ import annotations

DEPARTMENTS = ("police", "civil_affairs", "social_security")


def raw_topic(prefix: str, department: str) -> str:
    """Where a department's connector publishes its canonical events."""
    if department not in DEPARTMENTS:
        raise ValueError(f"unknown department {department!r}; known: {', '.join(DEPARTMENTS)}")
    return f"{prefix}.raw.{department}"


def raw_topics(prefix: str) -> list[str]:
    return [raw_topic(prefix, d) for d in DEPARTMENTS]


def dead_letter_topic(prefix: str) -> str:
    """Records no connector or processor could map, each with its reason and raw bytes."""
    return f"{prefix}.deadletter"


def changes_topic(prefix: str) -> str:
    """The change feed: resident created, updated, merged, split, removed; keyed by resident."""
    return f"{prefix}.changes.residents"


def findings_topic(prefix: str) -> str:
    """New cross-department findings (deceased_with_active_pension, ...), keyed by resident."""
    return f"{prefix}.findings"


def processor_group(prefix: str) -> str:
    """The processor's consumer group (faust's app id): more workers join the same group."""
    return f"{prefix}-processor"


def all_topics(prefix: str) -> list[str]:
    return [*raw_topics(prefix), dead_letter_topic(prefix), changes_topic(prefix),
            findings_topic(prefix)]
