"""Which records an estimate reads (pure): a bounded sample, so that re-estimating a store of
any size holds about as many records as it does at U_RECORDS (reading every record took 1.7 to
2.1 GB per worker at 415,000 records).

The rule is one, computed here on a list of records (a clean run) and in SQL on the store
(streams/sample_store.py), so both estimate the same parameters from the same records:
- u: the U_RECORDS records with the smallest md5 of their ref (random pairs are drawn among
  them; md5 spreads them over departments, places and years, as random pairs need);
- m: the groups of records sharing a trusted ID number, and those sharing a person number, taken
  in the order of the md5 of each group's smallest ref until their pairs reach M_PAIRS;
- the records the stewards' decisions name (the labelled pairs);
- for the spouses the sample's records name, what those spouses' own records say they married
  (spouses.Partners: the comparison's household evidence needs nothing more).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from streams.features import RecordFeatures
from streams.spouses import Partners, partners_of

U_RECORDS = 30_000
M_PAIRS = 50_000

Group = list[RecordFeatures]


@dataclass(frozen=True)
class EstimationSample:
    unrelated: list[RecordFeatures]  # sorted by ref
    by_id: list[Group]  # each group sorted by ref, the groups in the rule's order
    by_key: list[Group]
    labelled: dict[str, RecordFeatures]  # by ref
    partners: Partners

    def records(self) -> list[RecordFeatures]:
        """Every record the sample holds (once each)."""
        chosen = {r.ref: r for r in self.unrelated}
        chosen |= {r.ref: r for group in [*self.by_id, *self.by_key] for r in group}
        return list((chosen | self.labelled).values())


def rank(ref: str) -> str:
    """The order the rule takes records and groups in (PostgreSQL: `md5(ref)`)."""
    return hashlib.md5(ref.encode()).hexdigest()


def sample_of(records: Sequence[RecordFeatures], labelled_refs: Collection[str],
              u_records: int = U_RECORDS, m_pairs: int = M_PAIRS) -> EstimationSample:
    """The sample of `records` (one version per ref), naming the records of `labelled_refs`
    (the limits are the module's but in tests)."""
    unrelated = sorted(heapq.nsmallest(u_records, records, key=lambda r: (rank(r.ref), r.ref)),
                       key=lambda r: r.ref)
    sample = EstimationSample(
        unrelated, first_groups(records, lambda r: r.trusted_id, m_pairs),
        first_groups(records, lambda r: r.person_key, m_pairs),
        {r.ref: r for r in records if r.ref in labelled_refs}, {})
    return replace(sample, partners=partners_for(sample.records(), partners_of(records)))


def first_groups(records: Iterable[RecordFeatures], key_of: Callable[[RecordFeatures], str | None],
                 m_pairs: int = M_PAIRS) -> list[Group]:
    """The groups of two or more records sharing a key, in the order of the md5 of their
    smallest ref, up to the one whose pairs reach `m_pairs` (counting every pair in them)."""
    groups: dict[str, Group] = defaultdict(list)
    for record in records:
        key = key_of(record)
        if key:
            groups[key].append(record)
    ranked = sorted((sorted(g, key=lambda r: r.ref) for g in groups.values() if len(g) > 1),
                    key=lambda g: (rank(g[0].ref), g[0].ref))
    taken: list[Group] = []
    pairs = 0
    for group in ranked:
        if pairs >= m_pairs:
            break
        taken.append(group)
        pairs += len(group) * (len(group) - 1) // 2
    return taken


def partners_for(chosen: Iterable[RecordFeatures], partners: Partners) -> Partners:
    """`partners` of the spouses the `chosen` records name, and no others."""
    named = {s for r in chosen for s in r.spouses}
    return {number: said for number, said in partners.items() if number in named}
