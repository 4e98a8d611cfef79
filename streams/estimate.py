"""Estimate the Fellegi-Sunter m and u probabilities from the records themselves (pure).

No truth file is used. u (how often a field agrees by chance) comes from random pairs of
records, nearly all of which are different people. m (how often it agrees for the same person)
comes from pairs the deterministic rules already tie together: pairs sharing a trusted ID number
for every field but the ID itself (less those one department holds as two people, by two of its
person numbers), and pairs sharing a department's person number for the ID (whose typos those
pairs do show). Counts are smoothed (add one) so no level has probability 0.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from streams.features import RecordFeatures
from streams.matching import FIELDS, LEVELS, Parameters, comparison

LINK_BITS = 15.0
REVIEW_BITS = 8.0


def estimate_parameters(records: Sequence[RecordFeatures], random_pairs: int = 50_000,
                        seed: int = 0) -> Parameters:
    """m and u for every field level, estimated from `records`."""
    rng = random.Random(seed)
    shuffled = sorted(records, key=lambda r: r.ref)
    unrelated = ((shuffled[rng.randrange(len(shuffled))], shuffled[rng.randrange(len(shuffled))])
                 for _ in range(random_pairs if len(shuffled) > 1 else 0))
    u = _probabilities(((a, b) for a, b in unrelated if a.ref != b.ref), FIELDS)
    by_id = _pairs_sharing(records, lambda r: None if r.id_suspect else r.id_number)
    by_key = _pairs_sharing(records, lambda r: r.person_key)
    m = _probabilities(by_id, [f for f in FIELDS if f != "id"])
    m["id"] = _probabilities(by_key, ["id"])["id"]
    return Parameters(m=m, u=u, link=LINK_BITS, review=REVIEW_BITS)


def _pairs_sharing(records: Iterable[RecordFeatures], key_of, limit: int = 50_000
                   ) -> list[tuple[RecordFeatures, RecordFeatures]]:
    groups: dict[str, list[RecordFeatures]] = defaultdict(list)
    for record in records:
        key = key_of(record)
        if key:
            groups[key].append(record)
    pairs = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda r: r.ref)
        pairs.extend((a, b) for i, a in enumerate(group) for b in group[i + 1:]
                     if not _two_people(a, b))
        if len(pairs) >= limit:
            break
    return pairs


def _probabilities(pairs: Iterable[tuple[RecordFeatures, RecordFeatures]],
                   fields: Iterable[str]) -> dict[str, dict[str, float]]:
    fields = list(fields)
    counts: dict[str, Counter[str]] = {f: Counter() for f in fields}
    for a, b in pairs:
        levels = comparison(a, b)
        for f in fields:
            if levels[f] is not None:
                counts[f][levels[f]] += 1
    return {f: {level: (counts[f][level] + 1) / (sum(counts[f].values()) + len(LEVELS[f]))
                for level in LEVELS[f]} for f in fields}


def _two_people(a: RecordFeatures, b: RecordFeatures) -> bool:
    """Two person numbers of one department: two people, whatever else they share."""
    return (a.source == b.source and a.person_key is not None and b.person_key is not None
            and a.person_key != b.person_key)
