"""Group a component's records into residents (pure, deterministic, order-free).

The result depends only on the set of records, edges and steward decisions, never on the
order they arrived in: edges are taken strongest first in a fixed order (rule, score, names),
and a union the groups' identities forbid (`Identities`: two groups holding trusted ID numbers
but sharing none, or two person numbers of one department) or joining the two sides of a
steward's split is refused. That is what lets a streaming merge recompute a component whenever
new evidence touches it and still reach the same store as a clean run; the merge's shortcut
(streams/merge.py, joining new records to a resident without clustering again) holds exactly
when the records' identities hold one person (`Identities.one_person`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.features import RecordFeatures
from streams.matching import RULE_STRENGTH, Edge

AMBIGUOUS_BITS = 1.0  # a nameless record this close to two people is not linked to either


@dataclass(frozen=True)
class Split:
    """A steward's decision that these two records are different people (it sticks)."""

    a: str
    b: str


@dataclass(frozen=True)
class Link:
    """Why a record belongs to its resident: its strongest edge inside the group (None: alone)."""

    ref: str
    edge: Edge | None


@dataclass
class Identities:
    """What a group of records says that no other person shares: its trusted ID numbers, and
    each department's person numbers. Two groups are two people (a cannot-link) when both hold
    numbers but share none, or both hold person numbers of one department but share none of
    them; a steward's confirmation overrides both, and a department's own person number
    overrides the ID numbers (one person's records, one of them with a relative's number)."""

    numbers: set[str] = field(default_factory=set)
    keys: dict[str, set[str]] = field(default_factory=dict)  # department -> person numbers

    @classmethod
    def of(cls, records: Iterable[RecordFeatures]) -> Identities:
        found = cls()
        for r in records:
            if r.id_number and not r.id_suspect:
                found.numbers.add(r.id_number)
            if r.person_key:
                found.keys.setdefault(r.source, set()).add(r.person_key)
        return found

    def apart_from(self, other: Identities, rule: str) -> bool:
        """Whether an edge of `rule` may not join this group and `other`."""
        if rule == "steward":
            return False
        if (rule != "department_key" and self.numbers and other.numbers
                and self.numbers.isdisjoint(other.numbers)):
            return True
        return any(source in other.keys and keys.isdisjoint(other.keys[source])
                   for source, keys in self.keys.items())

    def absorb(self, other: Identities) -> None:
        self.numbers |= other.numbers
        for source, keys in other.keys.items():
            self.keys.setdefault(source, set()).update(keys)

    def one_person(self) -> bool:
        """Whether nothing here says two people: at most one trusted number and one person
        number per department. Records whose identities hold one person, joined to one group,
        are never refused by any union inside it."""
        return len(self.numbers) <= 1 and all(len(k) <= 1 for k in self.keys.values())


def strength(edge: Edge) -> tuple[int, float, str, str]:
    """Where an edge comes in the order clustering takes them (smaller: earlier): by rule, then
    score, then names."""
    return (RULE_STRENGTH[edge.rule], -edge.score, edge.a, edge.b)


def strongest_first(edges: Iterable[Edge]) -> list[Edge]:
    return sorted(edges, key=strength)


def cluster(records: Iterable[RecordFeatures], edges: Iterable[Edge],
            splits: Iterable[Split] = ()) -> list[list[Link]]:
    """Partition the records; each group lists its records with the edge that explains each.

    Steward confirmations come as edges with rule `steward`: they go first.
    """
    by_ref = {r.ref: r for r in records}
    parent = {ref: ref for ref in by_ref}
    members = {ref: {ref} for ref in by_ref}
    identities = {ref: Identities.of([r]) for ref, r in by_ref.items()}
    apart: dict[str, set[str]] = {ref: set() for ref in by_ref}
    for split in splits:
        if split.a in by_ref and split.b in by_ref:
            apart[split.a].add(split.b)
            apart[split.b].add(split.a)

    def root(ref: str) -> str:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    usable = strongest_first(e for e in _unambiguous(edges, by_ref) if e.links)
    for edge in usable:
        ra, rb = root(edge.a), root(edge.b)
        if ra == rb or _must_stay_apart(ra, rb, members, apart):
            continue
        if identities[ra].apart_from(identities[rb], edge.rule):
            continue  # other people's numbers on each side: never one resident
        small, large = sorted((ra, rb), key=lambda r: (len(members[r]), r))
        parent[small] = large
        members[large] |= members.pop(small)
        identities[large].absorb(identities.pop(small))

    best: dict[str, Edge] = {}
    for edge in usable:
        if root(edge.a) == root(edge.b):
            for ref in (edge.a, edge.b):
                best.setdefault(ref, edge)  # `usable` is strongest first
    groups = sorted((sorted(m) for m in members.values()), key=lambda g: g[0])
    return [[Link(ref, best.get(ref)) for ref in group] for group in groups]


def _unambiguous(edges: Iterable[Edge], by_ref: dict[str, RecordFeatures]) -> list[Edge]:
    """The edges within these records, less the scored links of a nameless record to people
    (different trusted ID numbers) it fits about equally well (within AMBIGUOUS_BITS): twins
    born the same day at one address, whom only a name could tell apart. Those stay possible
    matches for a steward."""
    inside = [e for e in edges if e.a in by_ref and e.b in by_ref]
    best: dict[str, dict[str, float]] = {}  # nameless ref -> number -> best score
    for edge in inside:
        if edge.rule != "probabilistic":
            continue
        for ref, other in ((edge.a, edge.b), (edge.b, edge.a)):
            number = None if by_ref[other].id_suspect else by_ref[other].id_number
            if by_ref[ref].name is None and number:
                scores = best.setdefault(ref, {})
                scores[number] = max(scores.get(number, edge.score), edge.score)
    ambiguous = set()
    for ref, scores in best.items():
        top = sorted(scores.values(), reverse=True)
        if len(top) > 1 and top[0] - top[1] < AMBIGUOUS_BITS:
            ambiguous.add(ref)
    return [e for e in inside if e.rule != "probabilistic" or not ambiguous & {e.a, e.b}]


def _must_stay_apart(ra: str, rb: str, members: dict[str, set[str]],
                     apart: dict[str, set[str]]) -> bool:
    return any(apart[x] & members[rb] for x in members[ra])
