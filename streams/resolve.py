"""Identity resolution of a set of records (pure): blocking, comparison, clustering.

The streaming merge runs the same steps on the component a batch touches; `resolve` on a whole
set is the clean run it must agree with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from streams.clustering import Link, Split, cluster
from streams.features import RecordFeatures
from streams.matching import Edge, Parameters, compare, keys_of, stored_keys
from streams.spouses import Partners, household_pairs, partners_of

MAX_BLOCK = 2000  # a key shared by more records than this says nothing about identity


def edges_among(records: Sequence[RecordFeatures], parameters: Parameters,
                against: Sequence[RecordFeatures] | None = None,
                partners: Partners | None = None) -> list[Edge]:
    """Edges between `records` and `against` (default: among `records`) where a record's
    lookup keys meet the other's stored keys (a relation that goes both ways), or the spouse
    evidence ties them. `partners`: that evidence (default: what the records themselves say)."""
    others = records if against is None else against
    index: dict[str, list[RecordFeatures]] = defaultdict(list)
    for record in others:
        for key in stored_keys(record):
            index[key].append(record)
    lookups = {record.ref: keys_of(record).lookup for record in records}
    return edges_under(records, lookups, index, others, parameters, partners)


def edges_under(records: Sequence[RecordFeatures], lookups: Mapping[str, Iterable[str]],
                index: Mapping[str, Sequence[RecordFeatures]],
                others: Sequence[RecordFeatures], parameters: Parameters,
                partners: Partners | None = None) -> list[Edge]:
    """`edges_among` with the keys already worked out: each record's `lookups`, and `others`
    by the stored keys that matter (a merge has them as the store protects them, from its
    candidate lookup: streams/merge.py)."""
    if partners is None:
        partners = partners_of({r.ref: r for r in [*others, *records]}.values())
    seen: set[tuple[str, str]] = set()
    edges: list[Edge] = []

    def consider(record: RecordFeatures, other: RecordFeatures) -> None:
        pair = (min(record.ref, other.ref), max(record.ref, other.ref))
        if other.ref != record.ref and pair not in seen:
            seen.add(pair)
            edge = compare(record, other, parameters, partners)
            if edge is not None:
                edges.append(edge)

    for record in records:
        for key in lookups[record.ref]:
            block = index.get(key, ())
            if len(block) <= MAX_BLOCK:
                for other in block:
                    consider(record, other)
    for record, other in household_pairs(records, others, partners):
        consider(record, other)
    return edges


def resolve(records: Iterable[RecordFeatures], parameters: Parameters,
            splits: Iterable[Split] = (), confirmed: Iterable[Edge] = ()) -> list[list[Link]]:
    """Residents of a whole set of records, as a clean run computes them."""
    records = list(records)
    return cluster(records, [*confirmed, *edges_among(records, parameters)], splits)
