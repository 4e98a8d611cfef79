"""Pairwise precision, recall and F1 of the hub's record grouping against a truth file."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import InputError
from deploy.postgres import connect, dsn
from deploy.settings import HubSettings


@dataclass(frozen=True)
class PairwiseScores:
    """Counts of record pairs put together (predicted), truly together, and both."""

    predicted: int
    true: int
    correct: int
    records: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairwiseScores:
    """`predicted` and `truth` map record refs to a cluster / person; only shared refs count."""
    refs = predicted.keys() & truth.keys()
    return PairwiseScores(
        predicted=_pairs(Counter(predicted[r] for r in refs)),
        true=_pairs(Counter(truth[r] for r in refs)),
        correct=_pairs(Counter((predicted[r], truth[r]) for r in refs)),
        records=len(refs),
    )


def read_truth(path: Path) -> dict[str, str]:
    """truth.csv (source, record_id, person) as record ref -> person."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = {"source", "record_id", "person"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{path}: no column {', '.join(sorted(missing))}")
        return {f"{row['source']}:{row['record_id']}": row["person"] for row in reader}


def store_scores(settings: HubSettings, truth: Mapping[str, str]) -> PairwiseScores:
    """Scores of the store's current grouping (hub.source_links) against `truth`."""
    conn = connect(dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT source || ':' || record_id, resident_id FROM hub.source_links")
            return pairwise_scores(dict(cur.fetchall()), truth)
    finally:
        conn.close()
