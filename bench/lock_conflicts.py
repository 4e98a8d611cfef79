"""How often two workers' batches wait for each other: the lock keys two batches share.

Run by hand, never by CI (pure, no stack):

    .venv/bin/python bench/lock_conflicts.py --persons 200000 [--batches 2000 500 250 100]

A merge holds a lock on every lock key of its batch's records (`streams.matching.keys_of`,
`RecordKeys.lock`) until it commits, so a worker whose batch shares one key with a batch another
worker is merging waits for that whole transaction. Two workers' batches come from different
partitions, i.e. mostly different people: this script draws pairs of disjoint random batches
of each size from a generated city's records, mapped as the connectors map them, and prints
for each size the share of pairs that share at least one lock key (the chance a batch waits for
one concurrent batch), the mean number of keys shared and the key kinds they are of. The store
locks a 32-bit hash of each key (`merge_store._lock`), so the chance with hash collisions
counted is printed beside it.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from store_throughput import city_features  # bench/ runs its scripts by path

from connectors.synthetic_city import generate_city
from streams.matching import keys_of


def lock_keys(city: Path) -> list[frozenset[str]]:
    """Every record's lock keys, in the order of the exports."""
    return [keys_of(features).lock for features in city_features(city)]


def hashed(keys: Iterable[str]) -> set[int]:
    """The keys' CRC-32s, as `merge_store._lock` hashes the (protected) keys it locks."""
    return {zlib.crc32(key.encode()) for key in keys}


def conflicts(records: list[frozenset[str]], batch: int, pairs: int, rng: random.Random
              ) -> tuple[float, float, float, Counter]:
    """Over `pairs` pairs of disjoint random batches: the share sharing a key, the same with
    32-bit hash collisions, the mean keys shared, and the kinds of the shared keys."""
    waiting = waiting_hashed = shared_total = 0
    kinds: Counter = Counter()
    for _ in range(pairs):
        chosen = rng.sample(range(len(records)), 2 * batch)
        first = set().union(*(records[i] for i in chosen[:batch]))
        second = set().union(*(records[i] for i in chosen[batch:]))
        shared = first & second
        waiting += bool(shared)
        shared_total += len(shared)
        kinds.update(key[:2] for key in shared)
        waiting_hashed += bool(shared) or bool(hashed(first) & hashed(second))
    return waiting / pairs, waiting_hashed / pairs, shared_total / pairs, kinds


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
        records = lock_keys(Path(tmp))
    per_record = sum(len(keys) for keys in records) / len(records)
    print(f"{args.persons:,} persons, {len(records):,} records, {per_record:.1f} lock keys per "
          f"record, mapped in {time.monotonic() - started:.0f} s; {args.pairs} pairs per size")
    print("| batch | pairs sharing a lock key | with 32-bit hash collisions | keys shared (mean) "
          "| shared keys by kind |")
    print("|---:|---:|---:|---:|---|")
    rng = random.Random(args.seed)
    for batch in args.batches:
        share, share_hashed, mean, kinds = conflicts(records, batch, args.pairs, rng)
        total = sum(kinds.values()) or 1
        by_kind = ", ".join(f"{kind} {n / total:.0%}" for kind, n in kinds.most_common(4))
        print(f"| {batch:,} | {share:.1%} | {share_hashed:.1%} | {mean:.2f} | {by_kind} |",
              flush=True)


if __name__ == "__main__":
    main()
