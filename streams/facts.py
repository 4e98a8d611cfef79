"""The facts a canonical event states about its person, and the relatives it names, as its
department's declaration says (pure).

Every record states its person's identity where it has it (name, sex, birth date, phone, and
its own valid ID number unless that is evidently a relative's); then the declaration's facts
(`FactRule`) and relations (`RelationRule`), each true from when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from schemas.declarations import Department, FactRule, Verification
from schemas.departments import department
from streams.features import (
    applies,
    department_of,
    field_at,
    number_contradicts_record,
    record_ref,
    relatives_named,
)

IDENTITY = ("name", "sex", "birth_date", "phone")
CHINA_TIME = timezone(timedelta(hours=8))  # every valid time is compared in it


class Observation(msgspec.Struct, frozen=True):
    """A fact a record states: attribute, value, when it became true, and who said it;
    `claim`: the attribute's owner should verify it (a `differs` claim states no value, only
    that the attribute no longer has this one)."""

    attribute: str
    value: Any
    valid_from: str  # YYYY[-MM[-DD]] or an ISO timestamp; sorts chronologically as text
    source: str
    record: str  # the record ref
    claim: Verification | None = None

    @property
    def states_value(self) -> bool:
        return self.claim is None or self.claim.expect != "differs"


@dataclass(frozen=True)
class Relative:
    """A relative a record names: who the record's person is to them, by their ID number."""

    kind: str  # mother | father | spouse (of the record's person)
    id_number: str  # valid 18-character number
    name: str | None
    record: str


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def local_time(occurred: str) -> str:
    """Timestamps in China's time (UTC+8, no daylight saving), so that every valid time (dates
    and timestamps alike) sorts as text."""
    if "T" not in occurred:
        return occurred
    return datetime.fromisoformat(occurred).astimezone(CHINA_TIME).isoformat()


def _value(rule: FactRule, parsed: dict[str, Any]) -> Any:
    if rule.source is not None:
        value = field_at(parsed, rule.source)
    elif rule.object is not None:
        value = {key: part["value"] if isinstance(part, dict) else field_at(parsed, part)
                 for key, part in rule.object.items()}
    else:
        value = rule.value
    return rule.default if _empty(value) and rule.default is not None else value


def _when(rule: FactRule, parsed: dict[str, Any]) -> str:
    for path in rule.when:
        found = field_at(parsed, path)
        if found:
            return local_time(found)
    return ""


def own_number(parsed: dict[str, Any], declared: Department) -> str | None:
    """The record's valid ID number, unless it is evidently a relative's."""
    number = (parsed.get("id_number") or {}).get("normalized")
    if not number or number_contradicts_record(number, parsed, relatives_named(parsed, declared)):
        return None
    return number


def observations_of(event: dict[str, Any], declared: Department | None = None
                    ) -> list[Observation]:
    """Every fact one canonical event states about its person."""
    declared = declared or department(department_of(event))
    source, ref = declared.id, record_ref(event)
    parsed = event["data"]["parsed"]
    when = local_time(parsed.get("occurred") or "")
    found = [Observation(a, parsed.get(a), when, source, ref) for a in IDENTITY]
    found.append(Observation("id_number", own_number(parsed, declared), when, source, ref))
    found += [Observation(rule.attribute, _value(rule, parsed), _when(rule, parsed), source, ref,
                          rule.verify)
              for rule in declared.facts if applies(parsed, rule.if_, rule.unless)]
    return [o for o in found if o.value is not None and o.value != ""]


def relatives_of(event: dict[str, Any], declared: Department | None = None) -> list[Relative]:
    """The relatives one canonical event names by a valid ID number."""
    declared = declared or department(department_of(event))
    parsed, ref = event["data"]["parsed"], record_ref(event)
    found = []
    for rule in declared.relations:
        if not applies(parsed, rule.if_, rule.unless):
            continue
        number = (field_at(parsed, rule.id_number) or {}).get("normalized")
        if number:
            name = field_at(parsed, rule.name) if rule.name else None
            found.append(Relative(rule.kind, number, name, ref))
    return found
