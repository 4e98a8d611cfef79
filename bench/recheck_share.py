"""How much a merge's recheck merges again: the records of a batch that a concurrent batch's
records meet.

Run by hand, never by CI (pure, no stack):

    .venv/bin/python bench/recheck_share.py --persons 200000 [--batches 2000 500 250 100]

Workers merge side by side without locking blocking keys; of two concurrent merges, the one
that commits second finds, in its recheck, the first one's records stored under its records'
lookup keys, and merges those of its records again (streams/merge.py). Two workers' batches
come from different partitions, i.e. mostly different people: this script draws pairs of
disjoint random batches of each size from a generated city's records, mapped as the connectors
map them, and prints for each size the share of pairs in which some record is merged again,
the records merged again per batch (mean, and as a share of the batch) and the kinds of key
that made them meet. With N workers a batch has up to N - 1 concurrent ones.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from store_throughput import city_features  # bench/ runs its scripts by path

from connectors.synthetic_city import generate_city
from streams.matching import RecordKeys, keys_of


def merged_again(records: list[RecordKeys], batch: int, pairs: int, rng: random.Random
                 ) -> tuple[float, float, Counter]:
    """Over `pairs` pairs of disjoint random batches: the share in which the second batch's
    records meet a record of the first, the mean records of the second that do, and the kinds
    of the keys they meet under."""
    touched = merged = 0
    kinds: Counter = Counter()
    for _ in range(pairs):
        chosen = rng.sample(range(len(records)), 2 * batch)
        stored = set().union(*(records[i].stored for i in chosen[:batch]))
        meeting = [records[i].lookup & stored for i in chosen[batch:]]
        again = [keys for keys in meeting if keys]
        touched += bool(again)
        merged += len(again)
        kinds.update(key[:2] for keys in again for key in keys)
    return touched / pairs, merged / pairs, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[2000, 1000, 500, 250, 100])
    parser.add_argument("--pairs", type=int, default=200, help="batch pairs drawn per size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        generate_city(args.persons, args.seed, Path(tmp))
        records = [keys_of(features) for features in city_features(Path(tmp))]
    print(f"{args.persons:,} persons, {len(records):,} records, mapped in "
          f"{time.monotonic() - started:.0f} s; {args.pairs} pairs per size")
    print("| batch | pairs with a record merged again | records merged again per batch "
          "| share of the batch | keys they met under, by kind |")
    print("|---:|---:|---:|---:|---|")
    rng = random.Random(args.seed)
    for batch in args.batches:
        share, mean, kinds = merged_again(records, batch, args.pairs, rng)
        total = sum(kinds.values()) or 1
        by_kind = ", ".join(f"{kind} {n / total:.0%}" for kind, n in kinds.most_common(4))
        print(f"| {batch:,} | {share:.1%} | {mean:.1f} | {mean / batch:.2%} | {by_kind} |",
              flush=True)


if __name__ == "__main__":
    main()
