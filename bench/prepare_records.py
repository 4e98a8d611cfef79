"""Preparing a batch's records, alone: the pure work the store step does before its first
statement (features, lookup keys, their keyed hashes), in microseconds per record.

Run by hand, never by CI:

    PYTHONPATH=$PWD .venv/bin/python bench/prepare_records.py [--persons 3000] [--seed 7]

Generates a city, maps its five exports to events as the connectors would, and times, best of
`--repeat` passes over all of them after one pass that is not counted (the caches of names and
addresses warm, as in a running processor): `features_of`, `keys_of`, and
`record_store.protected_keys` over the keys (ID-number keys hashed), with a new keyring. Two
checkouts compare side by side by running it under each one's PYTHONPATH in turn.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import EXPORTS  # bench/ runs its scripts by path
from store_throughput import department_events

from connectors.synthetic_city import generate_city
from deploy import id_keys
from streams import record_store
from streams.features import features_of
from streams.id_protection import new_keyring
from streams.matching import keys_of


def best_us_per_record(work: Callable[[], object], records: int, repeat: int) -> float:
    work()
    best = min(_timed(work) for _ in range(repeat))
    return best / records * 1e6


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_city(args.persons, args.seed, Path(tmp))
        events = [e for department, name in EXPORTS
                  for e in department_events(Path(tmp), department, name)]
    id_keys.install(new_keyring())
    features = {str(i): features_of(e) for i, e in enumerate(events)}
    keys = {ref: keys_of(f) for ref, f in features.items()}
    n = len(events)
    print(f"{n} records of {args.persons} persons, seed {args.seed}; microseconds per record,"
          f" best of {args.repeat}:")
    stages = (("features_of", lambda: [features_of(e) for e in events]),
              ("keys_of", lambda: [keys_of(f) for f in features.values()]),
              ("protected_keys", lambda: record_store.protected_keys(keys)))
    for name, work in stages:
        print(f"  {name} {best_us_per_record(work, n, args.repeat):.1f}")


if __name__ == "__main__":
    main()
