"""Verification tasks (核实任务), worked out from a resident's facts (pure).

A fact whose declaration says `verify` (departments/*.toml) is a claim the attribute's owner
should check: its current value should be the `same` as the claim's, or should `differ` from it.
Each such claim is worked out against the owner's current value (its latest, by valid time, as
the golden record takes it), so the open tasks depend only on the records, never on the order
they came in: a claim the owner's value contradicts, or that the owner has no value for, asks the
owner to verify it; one it agrees with asks nothing (a task already open closes by itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.departments import all_attributes
from streams.facts import Observation
from streams.survivorship import agrees, owner_of

PlaceKey = Callable[[str], str | None]  # an address -> its normalized key (None: unreadable)


@dataclass(frozen=True)
class Claim:
    """One claim to verify and how the owner's current value stands to it."""

    report: str  # the record ref that claims it
    attribute: str
    department: str  # the attribute's owner, who verifies
    kind: str  # the task's kind (the declaration's `verify.task`)
    expect: str  # same | differs
    reported: Any
    observed_on: str
    owner_value: Any  # None: the owner has no value
    owner_record: str | None
    holds: bool  # the owner's value agrees: nothing to verify


def _same(attribute: str, a: Any, b: Any, place_key: PlaceKey) -> bool:
    if all_attributes()[attribute].place and isinstance(a, str) and isinstance(b, str):
        key_a, key_b = place_key(a), place_key(b)
        if key_a is not None and key_b is not None:
            return key_a == key_b
    return agrees(attribute, a, b)


def claims_of(stated: Sequence[Observation], place_key: PlaceKey) -> list[Claim]:
    """Every claim among one resident's facts, against its owner's current value."""
    found = []
    for o in stated:
        owner = owner_of(o.attribute)
        if o.claim is None or owner is None:
            continue
        owned = [x for x in stated if x.attribute == o.attribute and x.source == owner
                 and x.states_value]
        current = max(owned, key=lambda x: (x.valid_from, x.record)) if owned else None
        if current is None:
            holds = o.claim.expect == "differs"  # nothing stated there to take back
        else:
            same = _same(o.attribute, current.value, o.value, place_key)
            holds = same if o.claim.expect == "same" else not same
        found.append(Claim(o.record, o.attribute, owner, o.claim.task, o.claim.expect, o.value,
                           o.valid_from, current and current.value,
                           current and current.record, holds))
    return sorted(found, key=lambda c: (c.report, c.attribute))
