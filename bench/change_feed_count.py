"""The change feed end to end: how many messages the workers publish for the outbox's entries.

Run by hand, never by CI:

    PYTHONPATH=$PWD .venv/bin/python bench/change_feed_count.py [--persons 3000] [--workers 2]

On a private stack, backfills a generated city into K `sanwang process` workers, waits until
every event is merged and every outbox entry marked sent, then prints the entries of
`hub.change_outbox` against the messages the workers say they published to the change feed and
findings topics (`sanwang_processor_events_produced_total`, read from each worker's metrics).
Without a crash, each entry should be published once: at-least-once allows more only when a
worker dies between its send and marking the entry sent.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
from harness import (  # bench/ runs its scripts by path
    EXPORTS,
    load_grids,
    private_stack,
    spawn_workers,
    stop_workers,
    wait_for_group,
    worker_samples,
)

from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from deploy import postgres
from deploy.settings import HubSettings
from schemas.topics import changes_topic, findings_topic
from streams.lag import wait_for_processor


def published(settings: HubSettings, worker: subprocess.Popen, topics: set[str]) -> float:
    """The messages one worker says it published to `topics`."""
    return sum(sample.value for sample in worker_samples(settings, worker)
               if sample.name == "sanwang_processor_events_produced_total"
               and sample.labels["topic"] in topics)


def outbox(settings: HubSettings, timeout: float = 300) -> int:
    """The outbox's entries, once every one is marked sent."""
    deadline = time.monotonic() + timeout
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        while True:
            cur.execute("SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL)"
                        " FROM hub.change_outbox")
            entries, unsent = cur.fetchone()
            conn.commit()
            if not unsent:
                return entries
            if time.monotonic() > deadline:
                raise TimeoutError(f"{unsent} of {entries} outbox entries still unsent")
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sanwang-change-feed-") as tmp:
        city = Path(tmp) / "city"
        generate_city(args.persons, args.seed, city)
        with private_stack(Path(tmp) / "home") as settings:
            load_grids(settings, city)
            workers = spawn_workers(settings, args.workers)
            try:
                wait_for_group(settings, args.workers)
                for department, name in EXPORTS:
                    backfill_file(settings, department, city / name, progress=False)
                wait_for_processor(settings, timeout=3600)
                entries = outbox(settings)
                time.sleep(2)  # the counters of the last sends
                topics = {changes_topic(settings.topic_prefix),
                          findings_topic(settings.topic_prefix)}
                counts = [published(settings, worker, topics) for worker in workers]
            finally:
                stop_workers(workers)
    print(f"{args.persons} persons, seed {args.seed}, {args.workers} workers: {entries} outbox"
          f" entries, {sum(counts):.0f} messages published ({', '.join(f'{c:.0f}' for c in counts)}"
          f" by worker), {sum(counts) / entries if entries else 0:.2f} per entry")


if __name__ == "__main__":
    main()
