"""Household evidence: what a record's named spouse says of who married them (pure).

A marriage registration often carries no number and no birth date for its person, only a name,
an address and the spouse's ID number. The spouse's own records name their spouse by number
too, so a record naming spouse S and a record carrying number N are likely one person when S's
records name N as their spouse (`agree`), and likely two when S's records name someone else
(`differ`: the person's son of the same name at the same address, say). Such a pair is
compared even where no blocking key meets (a misspelt name): `household_pairs`.

The evidence is a third record's, so the merge links a record again when a record of the
spouse it names lands or changes, and its rechecks follow the same paths
(streams/household_store.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

from streams.features import RecordFeatures

# a trusted number -> the numbers its records name as their spouse
Partners = Mapping[str, frozenset[str]]
NOBODY: frozenset[str] = frozenset()


def partners_of(records: Iterable[RecordFeatures]) -> dict[str, frozenset[str]]:
    """Who each trusted number's records name as spouse (one version per ref)."""
    named: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.spouses and r.trusted_id:
            named[r.trusted_id] |= r.spouses
    return {number: frozenset(spouses) for number, spouses in named.items()}


def claimed(namer: RecordFeatures, partners: Partners) -> frozenset[str]:
    """The numbers the spouses `namer` names say they married: who `namer` may be."""
    if not namer.spouses:  # most records: the comparison's hot path
        return NOBODY
    return frozenset().union(*(partners.get(s, NOBODY) for s in namer.spouses))


def spouse_level(a: RecordFeatures, b: RecordFeatures, partners: Partners) -> str | None:
    """`agree` when the spouse either record names says the other's trusted number married
    them, `differ` when that spouse names only others, None without such evidence."""
    if not a.spouses and not b.spouses:
        return None
    levels = {_one_way(x, y, partners) for x, y in ((a, b), (b, a))} - {None}
    return "agree" if "agree" in levels else levels.pop() if levels else None


def _one_way(namer: RecordFeatures, other: RecordFeatures, partners: Partners) -> str | None:
    said = claimed(namer, partners)
    if not said or not other.trusted_id:
        return None
    return "agree" if other.trusted_id in said else "differ"


def indexed(records: Iterable[RecordFeatures]
            ) -> tuple[dict[str, list[RecordFeatures]], dict[str, list[RecordFeatures]]]:
    """The records by trusted number, and by each number they name as their spouse's."""
    by_number: dict[str, list[RecordFeatures]] = defaultdict(list)
    naming: dict[str, list[RecordFeatures]] = defaultdict(list)
    for r in records:
        if r.trusted_id:
            by_number[r.trusted_id].append(r)
        for spouse in r.spouses:
            naming[spouse].append(r)
    return by_number, naming


def household_pairs(records: Iterable[RecordFeatures], others: Iterable[RecordFeatures],
                    partners: Partners) -> Iterator[tuple[RecordFeatures, RecordFeatures]]:
    """Each record of `records` with each of `others` that the evidence says it may be: a
    record naming spouse S with the records of a number S's records married, and the other way
    round (so a pair is found whichever of the two is in `records`)."""
    by_number, naming = indexed(others)
    married: dict[str, set[str]] = defaultdict(set)  # N -> the S whose records name N
    for spouse, numbers in partners.items():
        for number in numbers:
            married[number].add(spouse)
    for record in records:
        for number in claimed(record, partners):
            for other in by_number.get(number, ()):
                yield record, other
        for spouse in married.get(record.trusted_id or "", ()):
            for other in naming.get(spouse, ()):
                yield record, other
