"""Household evidence: what a record's named spouse says of who married them (pure).

A marriage registration often carries no number and no birth date for its person, only a name,
an address and the spouse's ID number. The spouse's own records name their spouse by number
too, so a record naming spouse S and a record carrying number N are likely one person when S's
records name N as their spouse (`agree`), and likely two when S's records name someone else
(`differ`: the person's son of the same name at the same address, say). The evidence is a third
record's, so the merge links a record again when a record of the spouse it names lands or
changes (streams/merge.py), and the blocking keys `sn:`/`si:` make concurrent merges recheck
each other (streams/matching.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from streams.features import RecordFeatures

# a trusted number -> the numbers its records name as their spouse
Partners = Mapping[str, frozenset[str]]


def partners_of(records: Iterable[RecordFeatures]) -> dict[str, frozenset[str]]:
    """Who each trusted number's records name as spouse (one version per ref)."""
    named: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.spouses and r.id_number and not r.id_suspect:
            named[r.id_number] |= r.spouses
    return {number: frozenset(spouses) for number, spouses in named.items()}


def spouse_level(a: RecordFeatures, b: RecordFeatures, partners: Partners) -> str | None:
    """`agree` when the spouse either record names says the other's trusted number married
    them, `differ` when that spouse names only others, None without such evidence."""
    levels = {_one_way(x, y, partners) for x, y in ((a, b), (b, a))} - {None}
    return "agree" if "agree" in levels else levels.pop() if levels else None


def _one_way(namer: RecordFeatures, other: RecordFeatures, partners: Partners) -> str | None:
    number = None if other.id_suspect else other.id_number
    if not namer.spouses or not number:
        return None
    said = frozenset().union(*(partners.get(s, frozenset()) for s in namer.spouses))
    if not said:
        return None
    return "agree" if number in said else "differ"
