"""City scale: the hub end to end on a generated city, beside a raw pipeline on the same records.

Run by hand, never by CI:

    PYTHONPATH=$PWD .venv/bin/python bench/city_scale.py --persons 20000 [--workers K]
        [--live-seconds 60] [--live-rate 500 [RATE ...]] [--skip-live] [--seed 7] [--partitions 6]
        [--merge-budget SECONDS]

One run, on a private stack (temporary state directory, free ports):

1. generates a city of N persons (about 2.4 N records in the three departments' exports);
2. raw: the same records' raw lines through Kafka into a PostgreSQL table with COPY and no
   logic (bench/raw_pipeline.py), end-to-end records/s, once before the hub's backfill and once
   after it (the mean is compared: the machine's load drifts over a long hub run);
3. hub: K `sanwang process` workers (started and joined before the clock), then the three
   exports backfilled one after another (`backfill_file`); records/s from the first publish to
   the processors' lag 0 (everything landed and merged); the workers' peak resident memory over
   that time; the share of the merges' time in a transaction spent waiting on another
   worker's locks and the deadlocks (bench/harness.py, LockWaits); the CPU per record merged of
   each part over that time (harness.CpuMeter: the connectors run in this script's process);
   the workers' batches' time in their transactions against their own CPU in them, read from
   their metrics (harness.BatchTimes): the rest waited;
   pairwise precision / recall of `hub.source_links` against the city's truth;
   with --merge-budget, a city too large to merge within it stops there: the row then gives the
   records merged so far, their rate and their precision / recall, and step 2's second run
   and 4 are left out;
4. live: changes at a steady rate through the hub's publisher for some seconds, and the time
   from each send to its record being merged in the store (bench/live_latency.py): p50, p90,
   p99 and the CPU per change of each part; for each --live-rate in turn.

Prints details, then one Markdown table row. The ratio hub/raw is the headline: absolute rates
move with whatever else the machine runs, the ratio much less.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from harness import (
    EXPORTS,
    BatchTimes,
    CpuMeter,
    LockWaits,
    PeakMemory,
    load_grids,
    machine,
    private_stack,
    spawn_workers,
    stop_workers,
    wait_for_group,
    wait_until_settled,
)
from live_latency import LiveResult, measure_live
from raw_pipeline import raw_rate

from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from deploy.postgres import dsn
from deploy.settings import HubSettings
from streams.evaluation import PairwiseScores, read_truth, store_scores
from streams.lag import wait_for_processor

YAAN_RECORDS = 3_400_000  # Ya'an's departments' records, the pilot city
HEADER = ("| persons | records | hub rec/s | raw rec/s | hub/raw | Ya'an 3.4M at hub rate "
          "| peak RSS MiB | precision | recall | live p50 s | live p99 s |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


@dataclass(frozen=True)
class HubRun:
    """The hub's backfill, end to end."""

    records: int
    merged: int  # below `records` when the merge budget ran out first
    published_s: float
    merged_s: float
    settled_s: float | None  # re-estimated from every landed event, nothing left to relink
    peak_mib: float
    lock_wait: float  # share of the merges' busy time spent waiting on each other's locks
    deadlocks: int  # transactions rolled back in a deadlock, first publish to settled
    cpu: tuple[float, ...]  # seconds by part (harness.CpuMeter), first publish to merged
    batches: tuple[float, float]  # the workers' batches: in transactions, their own CPU
    scores: PairwiseScores

    @property
    def rate(self) -> float:
        return self.merged / self.merged_s

    def cpu_per_record(self) -> str:
        """Each part's CPU per record merged, and the cores they kept busy."""
        parts = ("connectors and this script", "broker", "workers", "PostgreSQL")
        return (", ".join(f"{name} {1000 * seconds / self.merged:.3f}"
                          for name, seconds in zip(parts, self.cpu, strict=True))
                + f"; all {1000 * sum(self.cpu) / self.merged:.3f}, "
                f"{sum(self.cpu) / self.merged_s:.2f} cores busy")

    @property
    def complete(self) -> bool:
        return self.merged == self.records


def hub_backfill(settings: HubSettings, city: Path, workers: list[subprocess.Popen],
                 budget: float) -> HubRun:
    """Backfill the three exports into the running workers; wait until all is merged, or
    until `budget` s from the first publish have passed."""
    memory = PeakMemory([w.pid for w in workers])
    locks = LockWaits(settings)
    meter = CpuMeter(settings, [w.pid for w in workers])
    batches = BatchTimes(settings, workers)
    start = time.monotonic()
    tallies = [backfill_file(settings, d, city / name, progress=False) for d, name in EXPORTS]
    published = time.monotonic() - start
    records = sum(t.published for t in tallies)
    lag = [records]
    try:
        wait_for_processor(settings, timeout=max(budget - published, 0),
                           on_lag=_progress(records, start, lag))
        lag[0] = 0
    except TimeoutError:
        print(f"  hub: merge budget of {budget:.0f} s spent", flush=True)
    merged = time.monotonic() - start
    cpu = meter.read()
    batch_times = batches.read()
    settled = wait_until_settled(settings) - start if not lag[0] else None
    peak = memory.stop()
    lock_wait = locks.stop()
    for (department, _), tally in zip(EXPORTS, tallies, strict=True):
        print(f"  hub {department}: {tally.summary()}", flush=True)
    scores = store_scores(settings, read_truth(city / "truth.csv"))
    return HubRun(records, records - lag[0], published, merged, settled, peak, lock_wait,
                  locks.deadlocks, cpu, batch_times, scores)


def _progress(records: int, start: float, last_lag: list[int], every: float = 300
              ) -> Callable[[int], None]:
    """Keeps the latest lag in `last_lag` and prints how far the merge is every `every` s,
    so a long run killed early still tells."""
    last = [start]

    def on_lag(lag: int) -> None:
        now = time.monotonic()
        if lag >= 0:
            last_lag[0] = lag
        if lag >= 0 and now - last[0] >= every:
            last[0] = now
            print(f"  hub: {records - lag} of {records} merged after {now - start:.0f} s "
                  f"({(records - lag) / (now - start):.0f}/s)", flush=True)
    return on_lag


def _check_alive(workers: list[subprocess.Popen]) -> None:
    if any(w.poll() is not None for w in workers):
        raise SystemExit("a processor worker died; see processor-*.log")


def store_mib(settings: HubSettings) -> float:
    """The hub schema's tables with their indexes and TOAST, for sizing PostgreSQL."""
    conn = psycopg2.connect(dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN "
                        "pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'hub' AND c.relkind = 'r'")
            return cur.fetchone()[0] / 2**20
    finally:
        conn.close()


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def row(persons: int, hub: HubRun, raw: float, live: LiveResult | None) -> str:
    p50, p99 = (live.percentile(50), live.percentile(99)) if live else ("-", "-")
    records = f"{hub.records:,}" if hub.complete else f"{hub.merged:,} of {hub.records:,}"
    return (f"| {persons:,} | {records} | {hub.rate:,.0f} | {raw:,.0f} | "
            f"{hub.rate / raw:.3f} | {duration(YAAN_RECORDS / hub.rate)} | "
            f"{hub.peak_mib:,.0f} | {hub.scores.precision:.4f} | {hub.scores.recall:.4f} | "
            f"{p50} | {p99} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=COLUMNS,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20_000,
                        help="persons in the generated city (records are about 2.4 times that)")
    parser.add_argument("--seed", type=int, default=7, help="the city generator's seed")
    parser.add_argument("--workers", type=int, default=1, help="`sanwang process` workers")
    parser.add_argument("--partitions", type=int, default=6,
                        help="partitions of every topic, raw pipeline's too (hub default 6)")
    parser.add_argument("--live-seconds", type=float, default=60,
                        help="how long live changes are sent")
    parser.add_argument("--live-rate", type=float, nargs="+", default=[500],
                        help="live changes per second; several rates are run one after another "
                             "and the row gives the last one's (default 500)")
    parser.add_argument("--skip-live", action="store_true",
                        help="no live phase (p50 / p99 print as -)")
    parser.add_argument("--merge-budget", type=float, default=24 * 3600,
                        help="seconds from the first publish after which the run stops waiting "
                             "for the merge and reports what is merged (default a day)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sanwang-city-scale-") as tmp:
        city = Path(tmp) / "city"
        started = time.monotonic()
        stats = generate_city(args.persons, args.seed, city)
        print(f"  city: {args.persons} persons, seed {args.seed}, "
              f"{sum(stats.records.values())} records, generated in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        with private_stack(Path(tmp) / "home", args.partitions) as settings:
            load_grids(settings, city)
            raw_records, raw_before = raw_rate(settings, city, 1)
            print(f"  raw before the hub: {raw_records} records, {raw_before:,.0f} records/s",
                  flush=True)
            workers = spawn_workers(settings, args.workers)
            try:
                wait_for_group(settings, args.workers)
                hub = hub_backfill(settings, city, workers, args.merge_budget)
                print(f"  hub: {hub.records} records published in {hub.published_s:.0f} s, "
                      f"{hub.merged} merged in {hub.merged_s:.0f} s, settled (parameters "
                      f"re-estimated, every record linked again) in {hub.settled_s or 0:.0f} s;"
                      " pairs predicted "
                      f"{hub.scores.predicted}, true {hub.scores.true}, correct "
                      f"{hub.scores.correct}; the merges waited on each other's locks "
                      f"{hub.lock_wait:.0%} of their busy time, {hub.deadlocks} deadlocks",
                      flush=True)
                if hub.merged:  # a merge budget may run out before the first record
                    print(f"  hub CPU per record merged (ms): {hub.cpu_per_record()}",
                          flush=True)
                in_batches, own_cpu = hub.batches
                print(f"  hub workers' batches: {in_batches:.1f} s in their transactions, "
                      f"{own_cpu:.1f} s of their own CPU; "
                      f"{1 - own_cpu / in_batches if in_batches else 0:.0%} waited (for "
                      "PostgreSQL, for locks, for a core or the worker's other threads)",
                      flush=True)
                _check_alive(workers)
                if not hub.complete:
                    stop_workers(workers)  # the rest of the merge would only slow what follows
                    raw = raw_before
                else:
                    raw_records, raw_after = raw_rate(settings, city, 2)
                    print(f"  raw after the hub: {raw_records} records, "
                          f"{raw_after:,.0f} records/s", flush=True)
                    raw = (raw_before + raw_after) / 2
                size = store_mib(settings)
                print(f"  store: {size:,.0f} MiB in schema hub, "
                      f"{size * 2**20 / hub.merged:,.0f} bytes per record", flush=True)
                live = None
                for rate in args.live_rate if hub.complete and not args.skip_live else ():
                    live = measure_live(settings, city, rate, args.live_seconds,
                                        [w.pid for w in workers])
                    print(f"  live: sent {live.sent} in {live.seconds:.0f} s "
                          f"({live.sent / live.seconds:.0f}/s), seen {len(live.latencies)}, "
                          f"never seen {live.unseen}; p50 {live.percentile(50)} s, p90 "
                          f"{live.percentile(90)} s, p99 {live.percentile(99)} s, max "
                          f"{max(live.latencies, default=0):.2f} s; CPU ms per change "
                          f"(publishers and poller, broker, workers, PostgreSQL): "
                          f"{live.cpu_ms_per_change()}", flush=True)
                if hub.complete:
                    _check_alive(workers)
            finally:
                stop_workers(workers)
    print(f"  {machine()} at the end")
    print(HEADER)
    print(row(args.persons, hub, raw, live))


COLUMNS = """columns of the printed row:
  persons, records     the city's size; records = what the hub published from the exports
  hub rec/s            records / seconds from the first publish to the processors' lag 0
  raw rec/s            the same records' raw lines, Kafka -> COPY into PostgreSQL, no logic;
                       the mean of one run before and one after the hub's backfill
  hub/raw              the headline: the hub's share of what the plain pipeline does here
  Ya'an 3.4M ...       3,400,000 records backfilled at the hub rate
  peak RSS MiB         the workers' largest summed VmRSS (children included) during the backfill
  precision, recall    pairwise, hub.source_links against the city's truth.csv
  live p50 s, p99 s    send through EventPublisher to merged in hub.source_links, at the last
                       --live-rate for --live-seconds, over every change sent; "> T" when
                       the percentile falls among changes still not merged T s after the
                       first send (the processor slower than --live-rate)"""


if __name__ == "__main__":
    main()
