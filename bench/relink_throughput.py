"""Linking every record again after a switch of parameters, alone: the relink's records/s.

Run by hand, never by CI:

    .venv/bin/python bench/relink_throughput.py [--persons 20000] [--seed 7]

Starts a private PostgreSQL, backfills a generated city through the store step as
`store_throughput.py` does (the shipped parameters, batches of 2,000), then re-estimates from
the store (streams/reestimate.py), which queues every record, and runs `HubStore.relink_batch`
until the queue is empty, as a processor's workers do when a backfill has gone quiet. Prints
records/s of the backfill and of the relink, with CPU milliseconds per record in this process
and in its PostgreSQL backend, and the relinked store's precision / recall against truth.csv.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import cpu_seconds, remove_private_postgres  # bench/ runs its scripts by path
from store_throughput import opened_store, private_city

from deploy import postgres
from streams.evaluation import read_truth, store_scores

BATCH = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings, city, events = private_city(Path(tmp), args.persons, args.seed)
        postgres.start(settings)
        try:
            store, backend = opened_store(settings, city, events[0])

            def phase(name: str, run: Callable[[], int]) -> None:
                started, cpu, db = time.monotonic(), time.process_time(), cpu_seconds([backend])
                records = run()
                seconds = time.monotonic() - started
                print(f"| {args.persons:,} | {name} | {records:,} | {records / seconds:,.0f} |"
                      f" {1000 * (time.process_time() - cpu) / records:.2f} |"
                      f" {1000 * (cpu_seconds([backend]) - db) / records:.2f} |", flush=True)

            def backfill() -> int:
                for i in range(1, len(events), BATCH):
                    store.apply(events[i:i + BATCH])
                return len(events) - 1

            def relink() -> int:
                store.reestimate(2, None)  # the first estimate: due at once
                done = 0
                while (records := store.relink_batch()) is not None:
                    done += records
                return done

            print("| persons | phase | records | records/s | Python ms/record |"
                  " PostgreSQL ms/record |\n|---:|---|---:|---:|---:|---:|")
            phase("backfill", backfill)
            phase("re-estimate + relink", relink)
            scores = store_scores(settings, read_truth(city / "truth.csv"))
            print(f"precision {scores.precision:.4f}, recall {scores.recall:.4f}")
            store.close()
        finally:
            remove_private_postgres(settings)


if __name__ == "__main__":
    main()
