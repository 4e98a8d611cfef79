"""Cross-department findings (大数据分析研判), as declarative rules over a resident's facts (pure).

Each rule names conditions on attributes, never departments: "the population register has not
deregistered the death" is "the owner of life_status has not stated deceased". A condition reads
the golden value, the owner's latest value, or every department's evidence (`scope`). A resident
matching all of a rule's conditions has the finding, with the records behind those facts as its
evidence and, as `since`, when the latest of them happened. `elderly_living_alone` needs the
neighbours, so it is a view in the store (schemas/sql/005_findings.sql), not a rule here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.facts import Observation
from streams.normalize_address import OUTSIDE
from streams.survivorship import GoldenValue, owner_of

PlaceOf = Callable[[str], str | None]  # place text -> community, OUTSIDE, or None (unknown)


@dataclass(frozen=True)
class Condition:
    """A fact about `attribute` (or `value[field]`), read from `scope`: the golden value, the
    owner's latest, or `any` department's evidence. Holds when the value equals `equals`, is not
    `not_equals` (for `any`: no department's is) or is `absent`; a bare condition asks for the
    fact to be present."""

    attribute: str
    scope: str = "golden"  # golden | owner | any
    equals: Any = None
    not_equals: Any = None
    field: str | None = None
    absent: bool = False


@dataclass(frozen=True)
class Elsewhere:
    """The place in `attribute[field]` is another community than the one the owner of
    `residence` has the person living in, or outside the city."""

    attribute: str
    field: str
    residence: str = "residence_address"


@dataclass(frozen=True)
class Undecided:
    """No record of the owner of `attribute` waits for a steward as a possible match of this
    resident: while one does, the hub cannot say the owner has no record of them."""

    attribute: str


@dataclass(frozen=True)
class Rule:
    kind: str
    conditions: tuple[Condition | Elsewhere | Undecided, ...]
    explanation: str


DECEASED = Condition("life_status", scope="any", equals="deceased")
LIVING = Condition("life_status", scope="any", not_equals="deceased")
NOT_DEREGISTERED = Condition("life_status", scope="owner", not_equals="deceased")
MEMBER = Condition("party_membership", field="status", equals="member")
RULES = (
    Rule("deceased_with_active_pension",
         (DECEASED, Condition("pension", field="status", equals="active")),
         "the hub knows of a death, and the pension is still paid"),
    Rule("cremated_not_deregistered",
         (Condition("cremation"), NOT_DEREGISTERED),
         "a cremation was registered, and the death never deregistered"),
    Rule("dibao_with_employment",
         (Condition("dibao"), Condition("employment")),
         "minimum-living allowance (低保) and an employment registration, both current"),
    Rule("party_member_living_elsewhere",
         (MEMBER, LIVING, Elsewhere("party_membership", "place")),
         "the membership is kept in another community than where the member lives: "
         "the local branch should find them (党员寻找、识别)"),
    Rule("deceased_party_member_on_roll",
         (MEMBER, DECEASED),
         "the hub knows of a death, and the party roll still lists the member"),
    Rule("death_certified_not_deregistered",
         (Condition("death_certificate"), NOT_DEREGISTERED),
         "a death certificate was issued, and the death never deregistered"),
    Rule("birth_not_registered",
         (Condition("birth_certificate"), Condition("life_status", scope="owner", absent=True),
          Undecided("life_status")),
         "a birth certificate, and the child has no population registration at all (新生儿未落户)"),
)
KINDS = (*(rule.kind for rule in RULES), "elderly_living_alone")  # every kind, named once


@dataclass(frozen=True)
class Finding:
    kind: str
    since: str
    evidence: tuple[str, ...]  # record refs
    explanation: str


class ResidentFacts:
    """One resident's golden record and every observation behind it, by attribute."""

    def __init__(self, golden: Mapping[str, GoldenValue], observations: Sequence[Observation],
                 possible: frozenset[str] = frozenset()) -> None:
        self.golden = golden
        self.possible = possible  # sources of records waiting as possible matches
        self.by_attribute: dict[str, list[Observation]] = {}
        for o in observations:
            self.by_attribute.setdefault(o.attribute, []).append(o)

    def owners(self, attribute: str) -> Observation | None:
        """The owner's latest observation of `attribute`."""
        owner = owner_of(attribute)
        owned = [o for o in self.by_attribute.get(attribute, ()) if o.source == owner]
        return max(owned, key=lambda o: (o.valid_from, o.record)) if owned else None


def _part(value: Any, field: str | None) -> Any:
    if field is None:
        return value
    return value.get(field) if isinstance(value, dict) else None


def _scoped(condition: Condition, facts: ResidentFacts) -> list[tuple[Any, str, str]]:
    """(value, valid_from, record) of the facts the condition reads."""
    if condition.scope == "any":
        found = facts.by_attribute.get(condition.attribute, [])
        return [(_part(o.value, condition.field), o.valid_from, o.record) for o in found]
    fact = (facts.owners(condition.attribute) if condition.scope == "owner"
            else facts.golden.get(condition.attribute))
    return [] if fact is None else [(_part(fact.value, condition.field), fact.valid_from,
                                     fact.record)]


def _holds(condition: Condition, facts: ResidentFacts) -> list[tuple[str, str]] | None:
    """The (valid_from, record) evidence when the condition holds; None when it does not."""
    read = _scoped(condition, facts)
    if condition.absent:
        return [] if not read else None
    if condition.not_equals is not None:
        return [] if all(value != condition.not_equals for value, _, _ in read) else None
    matching = [(when, record) for value, when, record in read
                if value is not None and condition.equals in (None, value)]
    return matching or None


def _elsewhere(condition: Elsewhere, facts: ResidentFacts, place_of: PlaceOf
               ) -> list[tuple[str, str]] | None:
    kept, lives = facts.golden.get(condition.attribute), facts.owners(condition.residence)
    place = _part(kept.value, condition.field) if kept else None
    if not place or lives is None or not isinstance(lives.value, str):
        return None
    kept_in, living_in = place_of(place), place_of(lives.value)
    if kept_in is None or living_in is None or living_in == OUTSIDE or kept_in == living_in:
        return None
    assert kept is not None
    return [(kept.valid_from, kept.record), (lives.valid_from, lives.record)]


def findings_of(facts: ResidentFacts, place_of: PlaceOf) -> list[Finding]:
    """Every rule the resident's facts satisfy, with its evidence."""
    found = []
    for rule in RULES:
        evidence: list[tuple[str, str]] = []
        for condition in rule.conditions:
            if isinstance(condition, Undecided):
                held = None if owner_of(condition.attribute) in facts.possible else []
            elif isinstance(condition, Elsewhere):
                held = _elsewhere(condition, facts, place_of)
            else:
                held = _holds(condition, facts)
            if held is None:
                break
            evidence += held
        else:
            since = max((when for when, _ in evidence), default="")
            found.append(Finding(rule.kind, since, tuple(sorted({r for _, r in evidence})),
                                 rule.explanation))
    return found
