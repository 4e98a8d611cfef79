"""Every Kafka topic name the hub uses, derived from one prefix (tests use a unique prefix each)."""

from __future__ import annotations

from schemas.departments import all_departments, department


def raw_topic(prefix: str, name: str) -> str:
    """Where a department's connector publishes its canonical events (one per declaration)."""
    return f"{prefix}.raw.{department(name).id}"


def raw_topics(prefix: str) -> list[str]:
    return [raw_topic(prefix, d) for d in all_departments()]


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
