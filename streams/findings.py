"""Cross-department findings (大数据分析研判), as declarative rules over a golden record (pure).

Each rule names conditions on golden attributes; a resident matching all of them has the
finding, with the records behind those attributes as its evidence and, as `since`, when the
latest of those facts happened. `elderly_living_alone` needs the neighbours, so it is a view
in the store (schemas/sql/005_findings.sql), not a rule here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.survivorship import GoldenValue


@dataclass(frozen=True)
class Condition:
    """`attribute` present; or its value (or `value[field]`) equal / not equal to `value`; or
    its fact happened on or after another attribute's (`after`)."""

    attribute: str
    equals: Any = None
    not_equals: Any = None
    field: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class Rule:
    kind: str
    conditions: tuple[Condition, ...]
    explanation: str


RULES = (
    Rule("deceased_with_active_pension",
         (Condition("life_status", equals="deceased"),
          Condition("pension", field="status", equals="active")),
         "the police deregistered a death, social security still pays a pension"),
    Rule("cremated_not_deregistered",
         (Condition("cremation"), Condition("life_status", not_equals="deceased")),
         "civil affairs registered a cremation, the police never deregistered the death"),
    Rule("dibao_with_employment",
         (Condition("dibao"), Condition("employment", after="dibao")),
         "minimum-living allowance (低保), and employment registered since"),
)


@dataclass(frozen=True)
class Finding:
    kind: str
    since: str
    evidence: tuple[str, ...]  # record refs
    explanation: str


def _holds(condition: Condition, golden: Mapping[str, GoldenValue]) -> bool:
    found = golden.get(condition.attribute)
    if condition.not_equals is not None and found is None:
        return True  # nothing recorded is not the value the rule excludes
    if found is None:
        return False
    value = found.value
    if condition.field is not None:
        value = value.get(condition.field) if isinstance(value, dict) else None
    if condition.equals is not None and value != condition.equals:
        return False
    if condition.not_equals is not None and value == condition.not_equals:
        return False
    if condition.after is not None:
        other = golden.get(condition.after)
        return other is not None and found.valid_from[:10] >= other.valid_from[:10]
    return True


def findings_of(golden: Mapping[str, GoldenValue]) -> list[Finding]:
    """Every rule the resident's golden record satisfies, with its evidence."""
    found = []
    for rule in RULES:
        if all(_holds(c, golden) for c in rule.conditions):
            facts = [golden[c.attribute] for c in rule.conditions if c.attribute in golden]
            found.append(Finding(rule.kind, max(f.valid_from for f in facts),
                                 tuple(sorted({f.record for f in facts})), rule.explanation))
    return found
