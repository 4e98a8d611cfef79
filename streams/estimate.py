"""Estimate the Fellegi-Sunter m and u probabilities from the records themselves (pure).

No truth file is used, and only a bounded sample of the records is read
(streams/estimation_sample.py). u (how often a field agrees by chance) comes from random pairs
of records, nearly all of which are different people. m (how often it agrees for the same person)
comes from pairs the deterministic rules already tie together: pairs sharing a trusted ID number
for every field but the ID itself (less those one department holds as two people, by two of its
person numbers), and pairs sharing a department's person number for the ID (whose typos those
pairs do show). Counts are smoothed (add one) so no level has probability 0.

The data stewards' decisions are labelled pairs: a pair confirmed as one person joins the m
pairs of every field (the ID too), and a pair split as two people never counts towards m,
whatever the rules tie (one ID number carried by two people), and joins the u pairs. For one
pair only the latest decision stands, as in the merge.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from streams.estimation_sample import EstimationSample, sample_of
from streams.features import RecordFeatures
from streams.matching import FIELDS, LEVELS, Parameters, comparison
from streams.spouses import Partners

LINK_BITS = 15.0
REVIEW_BITS = 8.0

Pair = tuple[RecordFeatures, RecordFeatures]


@dataclass(frozen=True)
class LabelledPair:
    """A steward's decision on two records (refs): one person (`same`) or two people."""

    a: str
    b: str
    same: bool

    @property
    def key(self) -> tuple[str, str]:
        """The unordered pair, as the store keys it (smaller ref first)."""
        return (min(self.a, self.b), max(self.a, self.b))


def estimate_parameters(records: Sequence[RecordFeatures], random_pairs: int = 50_000,
                        seed: int = 0, labelled: Sequence[LabelledPair] = ()) -> Parameters:
    """m and u for every field level, estimated from the sample of `records`
    (streams/estimation_sample.py) and the stewards' `labelled` pairs (in decision order; the
    latest per pair stands, refs not in `records` are ignored)."""
    named = {ref for pair in labelled for ref in (pair.a, pair.b)}
    return estimate_from(sample_of(records, named), random_pairs, seed, labelled)


def estimate_from(sample: EstimationSample, random_pairs: int = 50_000, seed: int = 0,
                  labelled: Sequence[LabelledPair] = ()) -> Parameters:
    """m and u for every field level, from a `sample` and the stewards' `labelled` pairs.

    Each labelled pair counts once, like any pair the rules tie or any random pair: stewards
    see the pairs the matcher was unsure of, so weighting them more would skew m and u towards
    the hard cases instead of describing the records as a whole.
    """
    rng = random.Random(seed)
    pool = sample.unrelated
    confirmed, split = labelled_pairs(sample.labelled.values(), labelled)
    apart = {(a.ref, b.ref) for a, b in split}
    unrelated = ((pool[rng.randrange(len(pool))], pool[rng.randrange(len(pool))])
                 for _ in range(random_pairs if len(pool) > 1 else 0))
    u = _probabilities([*((a, b) for a, b in unrelated if a.ref != b.ref), *split], FIELDS,
                       sample.partners)
    by_id = _pairs_within(sample.by_id, apart)
    by_key = _pairs_within(sample.by_key, apart)
    m = _probabilities(_with(by_id, confirmed), [f for f in FIELDS if f != "id"],
                       sample.partners)
    m["id"] = _probabilities(_with(by_key, confirmed), ["id"], sample.partners)["id"]
    return Parameters(m=m, u=u, link=LINK_BITS, review=REVIEW_BITS)


def labelled_pairs(records: Iterable[RecordFeatures], labelled: Iterable[LabelledPair]
                   ) -> tuple[list[Pair], list[Pair]]:
    """The confirmed and the split pairs among `records`, each sorted, smaller ref first: the
    latest decision per unordered pair (`labelled` is in decision order)."""
    by_ref = {r.ref: r for r in records}
    latest = {pair.key: pair.same for pair in labelled}
    known = sorted((key, same) for key, same in latest.items()
                   if key[0] != key[1] and key[0] in by_ref and key[1] in by_ref)
    return ([(by_ref[a], by_ref[b]) for (a, b), same in known if same],
            [(by_ref[a], by_ref[b]) for (a, b), same in known if not same])


def _with(pairs: list[Pair], extra: list[Pair]) -> list[Pair]:
    """`pairs` and those of `extra` not among them (a pair counts once)."""
    present = {(a.ref, b.ref) for a, b in pairs}
    return pairs + [(a, b) for a, b in extra if (a.ref, b.ref) not in present]


def _pairs_within(groups: Iterable[Sequence[RecordFeatures]],
                  apart: Collection[tuple[str, str]]) -> list[Pair]:
    """Each group's pairs (groups sorted by ref), less two people's and the stewards' split."""
    return [(a, b) for group in groups for i, a in enumerate(group) for b in group[i + 1:]
            if not _two_people(a, b) and (a.ref, b.ref) not in apart]


def _probabilities(pairs: Iterable[Pair], fields: Iterable[str], partners: Partners
                   ) -> dict[str, dict[str, float]]:
    fields = list(fields)
    counts: dict[str, Counter[str]] = {f: Counter() for f in fields}
    for a, b in pairs:
        levels = comparison(a, b, partners)
        for f in fields:
            if levels[f] is not None:
                counts[f][levels[f]] += 1
    return {f: {level: (counts[f][level] + 1) / (sum(counts[f].values()) + len(LEVELS[f]))
                for level in LEVELS[f]} for f in fields}


def _two_people(a: RecordFeatures, b: RecordFeatures) -> bool:
    """Two person numbers of one department: two people, whatever else they share."""
    return (a.source == b.source and a.person_key is not None and b.person_key is not None
            and a.person_key != b.person_key)
