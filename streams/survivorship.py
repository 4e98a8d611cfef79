"""The golden record: one value per attribute, from the department that owns it (pure).

Each attribute has an owner, the department that collects that fact. A resident's value is the
owner's latest, by when the fact happened (not when it arrived); ties go to the larger record
id, so the result never depends on arrival order. Other departments' values are observations;
one that contradicts the owner's current value is a conflict for the stewards. Without any
value from the owner, the latest observation stands in, marked as such. An observer's values
(a declaration with `authority = "observer"`) rank below every department's: one stands in only
where no department has a value. Facts that state no value (a `differs` claim) are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec

from schemas.departments import all_attributes, all_departments
from streams.facts import Observation
from streams.normalize import normalize_name


def owner_of(attribute: str) -> str | None:
    """The department whose declaration owns `attribute`; None: no one (the latest wins)."""
    return owners().get(attribute)


@cache
def owners() -> dict[str, str]:
    """Each owned attribute's owner, as the departments' declarations say."""
    return {a: d.id for d in all_departments().values() for a in d.owns}


@cache
def observers() -> frozenset[str]:
    """The sources whose values never outrank a department's."""
    return frozenset(d.id for d in all_departments().values() if d.observer)


def ranked(found: list[Observation]) -> list[Observation]:
    """The values that may stand for an attribute: the departments', else the observers'."""
    stated = [o for o in found if o.states_value]
    return [o for o in stated if o.source not in observers()] or stated


class GoldenValue(msgspec.Struct, frozen=True):
    attribute: str
    value: Any
    valid_from: str
    source: str
    record: str
    authority: str  # owner | observed (no value from the owner yet) | latest (no owner)


@dataclass(frozen=True)
class Conflict:
    attribute: str
    owner_value: Any
    other_value: Any
    owner_record: str
    other_record: str


def _latest(observations: list[Observation]) -> Observation:
    return max(observations, key=lambda o: (o.valid_from, o.record))


def golden_record(observations: Iterable[Observation]
                  ) -> tuple[dict[str, GoldenValue], list[Conflict]]:
    """Each attribute's value with its authority, and the observations contradicting owners."""
    by_attribute: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_attribute[o.attribute].append(o)
    golden: dict[str, GoldenValue] = {}
    conflicts: list[Conflict] = []
    for attribute, every in sorted(by_attribute.items()):
        found = ranked(every)
        if not found:
            continue
        owner = owner_of(attribute)
        owned = [o for o in found if owner is None or o.source == owner]
        pick = _latest(owned or found)
        authority = "latest" if owner is None else "owner" if owned else "observed"
        golden[attribute] = GoldenValue(attribute, pick.value, pick.valid_from, pick.source,
                                        pick.record, authority)
        if owned and all_attributes()[attribute].compared:
            conflicts += [Conflict(attribute, pick.value, o.value, pick.record, o.record)
                          for o in sorted(every, key=lambda o: o.record)
                          if o.states_value and o.source != owner
                          and not agrees(attribute, pick.value, o.value)]
    return golden, conflicts


def agrees(attribute: str, owner_value: Any, other: Any) -> bool:
    if owner_value == other:  # most values: no need to normalize them
        return True
    if attribute == "birth_date":  # a partial date agrees with the full one it abbreviates
        return str(owner_value).startswith(str(other)) or str(other).startswith(str(owner_value))
    if attribute == "name":
        return normalize_name(owner_value) == normalize_name(other)
    return owner_value == other


def history(observations: Iterable[Observation]) -> list[tuple[Observation, str | None]]:
    """Every value each attribute had, with when the next one replaced it (None: current)."""
    by_attribute: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_attribute[o.attribute].append(o)
    rows = []
    for attribute, every in sorted(by_attribute.items()):
        found = ranked(every)
        owner = owner_of(attribute)
        owned = [o for o in found if owner is None or o.source == owner] or found
        ordered = sorted(owned, key=lambda o: (o.valid_from, o.record))
        rows += [(o, ordered[i + 1].valid_from if i + 1 < len(ordered) else None)
                 for i, o in enumerate(ordered)]
    return rows


def value_as_of(rows: Iterable[tuple[Observation, str | None]], attribute: str, when: str
                ) -> Any:
    """The attribute's value on `when` (YYYY-MM-DD): the last one that began by then."""
    began = [o for o, _ in rows if o.attribute == attribute and o.valid_from[:10] <= when]
    return _latest(began).value if began else None
