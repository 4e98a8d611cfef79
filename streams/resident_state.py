"""What the store holds about a resident, worked out from its records (pure): golden record,
grid, conflicts, findings, claims to verify; and which scored pairs wait for a steward.

The merge computes these for every resident a batch touches, from its members' features and
facts, then writes only what differs from what is stored (streams/resident_store.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.facts import Observation
from streams.features import RecordFeatures
from streams.findings import Finding, ResidentFacts, findings_of
from streams.grids import grid_of
from streams.matching import Edge
from streams.normalize_address import Gazetteer, community_of, normalize_address
from streams.survivorship import GoldenValue, golden_record
from streams.verification import Claim, claims_of

LOOSE_RULES = ("review", "probabilistic", "id_conflict")  # scored pairs that may not link


@dataclass(frozen=True)
class ResidentState:
    """One resident as its records say: golden record, where it lives, what is wrong."""

    resident: str
    members: frozenset[str]
    golden: dict[str, GoldenValue]
    grid: str | None
    address_key: str | None
    conflicts: tuple[tuple[str, str | None, dict[str, Any]], ...]  # kind, attribute, details
    findings: tuple[Finding, ...]
    claims: tuple[Claim, ...] = ()  # for verification tasks (streams/verification.py)


def _group_of(groups: Sequence[tuple[str, frozenset[str]]]) -> dict[str, str]:
    return {ref: resident for resident, members in groups for ref in members}


def review_items(groups: Sequence[tuple[str, frozenset[str]]], loose: Sequence[Edge]
                 ) -> list[Edge]:
    """Scored pairs whose records ended in different residents (or one outside these)."""
    group_of = _group_of(groups)
    return [e for e in loose if e.rule != "id_conflict"
            and (e.a not in group_of or e.b not in group_of or group_of[e.a] != group_of[e.b])]


def resident_states(groups: Sequence[tuple[str, frozenset[str]]],
                    features: Mapping[str, RecordFeatures],
                    facts: Mapping[str, Sequence[Observation]], loose: Sequence[Edge],
                    gazetteer: Gazetteer) -> list[ResidentState]:
    """Each (resident, members) group's state; `loose`: every scored pair touching them."""
    possible: dict[str, set[str]] = {}  # a record's possible matches' sources, for the rules
    for e in review_items(groups, loose):
        possible.setdefault(e.a, set()).add(e.b.split(":", 1)[0])
        possible.setdefault(e.b, set()).add(e.a.split(":", 1)[0])
    states = []
    for resident, members in groups:
        stated = [o for ref in sorted(members) for o in facts.get(ref, ())]
        golden, conflicts = golden_record(stated)
        rows = [("attribute_mismatch", c.attribute, c.__dict__) for c in conflicts]
        rows += [("id_number_shared", None, {"records": [e.a, e.b]}) for e in loose
                 if e.rule == "id_conflict" and (e.a in members or e.b in members)]
        residence = golden.get("residence_address")
        address = normalize_address(residence and residence.value, gazetteer)
        spellings = [a for ref in sorted(members) for a in features[ref].addresses]
        waiting = frozenset(s for ref in members for s in possible.get(ref, ()))
        values = [o for o in stated if o.states_value]
        states.append(ResidentState(
            resident, members, golden, grid_of(residence and residence.value, spellings,
                                               gazetteer),
            address and address.key(), tuple(rows),
            tuple(findings_of(ResidentFacts(golden, values, waiting),
                              lambda place: community_of(place, gazetteer))),
            tuple(claims_of(stated, lambda text: _place_key(text, gazetteer)))))
    return states


def _place_key(text: str, gazetteer: Gazetteer) -> str | None:
    address = normalize_address(text, gazetteer)
    return address and address.key()
