"""The processor's store step alone: land + merge batches straight into PostgreSQL, no Kafka.

Run by hand, never by CI:

    .venv/bin/python bench/store_throughput.py [--persons 20000] [--seed 7] [--batch 2000]
    py-spy record -o merge.svg -- .venv/bin/python bench/store_throughput.py   # where time goes
    .venv/bin/python bench/store_throughput.py --statements 15   # and where PostgreSQL's goes

Starts a private PostgreSQL (temporary state directory, free port), generates a city, maps every
record of its five exports to the canonical event exactly as the connectors do, interleaves the
departments (as partitions of their topics reach one worker) and hands batches to
`HubStore.apply`, the processor's one write; then `--live` changes as `city_scale.py` makes
them (a living person's record again, new record id, today's date) in smaller batches. Prints
two Markdown rows: persons, events, batch size, records/s of the store step, CPU milliseconds per
record in this process (the merge's Python) and in its PostgreSQL backend (the machine is shared,
so CPU time compares better than wall time), and the backfill's precision / recall against
truth.csv, so a faster merge that links differently shows at once. `--statements N` loads
pg_stat_statements and prints, after each phase, the N statements that took most of the
server's planning + execution time, with their share and milliseconds per record.

The garbage collector is set as the processor's workers set it (streams/heap.py) once the
events are in memory; `--default-collector` leaves CPython's defaults, to measure what that
saves. After each phase a line gives the collector's milliseconds per record (gc.callbacks).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg2
from harness import (  # bench/ runs its scripts by path
    EXPORTS,
    cpu_seconds,
    remove_private_postgres,
)
from live_latency import live_changes

from connectors.file_backfill import source_for
from connectors.records import MappingError
from connectors.synthetic_city import generate_city
from deploy import id_keys, postgres
from deploy.migrations import apply_migrations
from deploy.private_stack import private_settings
from deploy.settings import HubSettings
from schemas.registry import validation_errors
from streams.evaluation import read_truth, store_scores
from streams.features import RecordFeatures, features_of
from streams.grids import read_grids_csv, store_grids
from streams.heap import settle_heap
from streams.id_protection import new_keyring
from streams.landing import ConsumedEvent, HubStore


def department_events(city: Path, department: str, name: str) -> Iterator[dict[str, Any]]:
    """The canonical events the department's backfill would publish (bad records left out)."""
    read_from, to_event, _, _ = source_for(department, city / name)
    for record in read_from(0):
        if record.columns is None:
            continue
        try:
            event = to_event(record.columns, record.origin)
        except MappingError:
            continue
        if not validation_errors(event):
            yield event


def city_features(city: Path) -> Iterator[RecordFeatures]:
    """Every record's features, department after department (what the pure benches read)."""
    for department, name in EXPORTS:
        for event in department_events(city, department, name):
            yield features_of(event)


def interleaved(city: Path) -> list[ConsumedEvent]:
    """Every department's events, round robin: one worker reads all three topics at once."""
    streams = [department_events(city, d, n) for d, n in EXPORTS]
    events = [e for group in itertools.zip_longest(*streams) for e in group if e is not None]
    return [ConsumedEvent(e, "bench", 0, offset) for offset, e in enumerate(events)]


def private_city(tmp: Path, persons: int, seed: int
                 ) -> tuple[HubSettings, Path, list[ConsumedEvent]]:
    """A private PostgreSQL's settings under `tmp` (not started), a generated city there and
    its events interleaved, with a keyring installed: ID numbers are sealed at rest, as in the
    processor."""
    settings = private_settings(tmp / "home")
    city = tmp / "city"
    generate_city(persons, seed, city)
    id_keys.install(new_keyring())
    return settings, city, interleaved(city)


def processor_backend(settings: HubSettings) -> int:
    """The PostgreSQL backend serving the store's connection (to read its CPU time)."""
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE usename = 'sanwang_processor'")
        (pid,) = cur.fetchone()
    return pid


def opened_store(settings: HubSettings, city: Path, first: ConsumedEvent
                 ) -> tuple[HubStore, int]:
    """The started private PostgreSQL migrated, the city's grids loaded, and the processor's
    store with its `first` event applied (so its connection is open): the store and the
    PostgreSQL backend serving it."""
    apply_migrations(postgres.dsn(settings))
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        store_grids(cur, read_grids_csv(city / "grids.csv"))
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    store.apply([first])
    return store, processor_backend(settings)


def admin(settings: HubSettings) -> AbstractContextManager[Any]:
    """A cursor as the cluster's superuser, who sets pg_stat_statements up and reads it (each
    statement committed at once: ALTER SYSTEM runs outside a transaction)."""
    return postgres.autocommit_cursor(settings, postgres.ADMIN_ROLE)


def load_statement_stats(settings: HubSettings) -> None:
    """Restart the private PostgreSQL with pg_stat_statements (a preload library), timing
    planning as well as execution."""
    with admin(settings) as cur:
        cur.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    postgres.stop_local(settings)
    postgres.start(settings)
    with admin(settings) as cur:
        cur.execute("CREATE EXTENSION pg_stat_statements")
        cur.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        cur.execute("SELECT pg_reload_conf()")


def reset_statement_stats(settings: HubSettings) -> None:
    with admin(settings) as cur:
        cur.execute("SELECT pg_stat_statements_reset()")


def statement_stats(settings: HubSettings, records: int, top: int) -> str:
    """The processor's `top` statements by planning + execution time since the last reset, as
    Markdown rows; statements that differ only in how many rows or array elements they carry
    are one (pg_stat_statements counts each length apart)."""
    with admin(settings) as cur:
        cur.execute("""
            SELECT s.total_plan_time, s.total_exec_time, s.calls, s.rows, s.query
              FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE r.rolname = 'sanwang_processor'""")
        rows = cur.fetchall()
    grouped: dict[str, list[float]] = {}
    for plan, execute, calls, n, query in rows:
        sums = grouped.setdefault(statement_shape(query), [0.0, 0.0, 0, 0])
        for i, value in enumerate((plan, execute, calls, n)):
            sums[i] += value
    total = sum(plan + execute for plan, execute, _, _ in grouped.values()) or 1.0
    lines = [f"  PostgreSQL planning + execution {total / records:.3f} ms per record:",
             "  | share | plan ms/record | execute ms/record | calls | rows/record | statement |",
             "  |---:|---:|---:|---:|---:|---|"]
    ranked = sorted(grouped.items(), key=lambda item: -(item[1][0] + item[1][1]))
    lines += [f"  | {(plan + execute) / total:.1%} | {plan / records:.3f} |"
              f" {execute / records:.3f} | {calls:,} | {n / records:.2f} | {shape[:100]} |"
              for shape, (plan, execute, calls, n) in ranked[:top]]
    return "\n".join(lines)


def history_rows(settings: HubSettings) -> int:
    """Rows in hub.resident_history: against the rows the backfill wrote, what rewriting a
    resident's whole history on every change costs."""
    with admin(settings) as cur:
        cur.execute("SELECT count(*) FROM hub.resident_history")
        return cur.fetchone()[0]


ROW = r"\((?:[^()]|\(\))*\)"  # a VALUES row: parameters, maybe a call like pg_current_xact_id()


def statement_shape(query: str) -> str:
    """A statement's text with its arrays and VALUES rows folded, whatever their lengths."""
    query = re.sub(r"\$[0-9]+", "$n", re.sub(r"\s+", " ", query))
    query = re.sub(r"ARRAY\[[^\]]*\]", "ARRAY[...]", query)
    return re.sub(rf"VALUES ?{ROW}(?: ?, ?{ROW})*", "VALUES (...)", query)


class CollectorClock:
    """The garbage collector's time since the last `lap` (gc.callbacks), and how many of its
    collections were full ones."""

    def __init__(self) -> None:
        self.seconds, self.full, self._began = 0.0, 0, 0.0
        gc.callbacks.append(self._note)

    def reset(self) -> None:
        self.seconds, self.full = 0.0, 0

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._began
        self.full += info["generation"] == 2

    def lap(self, records: int) -> str:
        line = (f"  garbage collector: {1000 * self.seconds / records:.3f} ms per record,"
                f" {self.full} full collections")
        self.reset()
        return line


def timed(store: HubStore, backend: int, events: list[ConsumedEvent], batch: int) -> str:
    """Apply `events` in batches: records/s, and CPU ms per record here and in PostgreSQL."""
    started, cpu, db_cpu = time.monotonic(), time.process_time(), cpu_seconds([backend])
    for i in range(0, len(events), batch):
        store.apply(events[i:i + batch])
    seconds = time.monotonic() - started
    cpu, db_cpu = time.process_time() - cpu, cpu_seconds([backend]) - db_cpu
    return (f"{len(events) / seconds:,.0f} | {1000 * cpu / len(events):.2f} | "
            f"{1000 * db_cpu / len(events):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=HubSettings().processor_batch_size,
                        help="events per transaction (default: the processor's, "
                        "SANWANG_PROCESSOR_BATCH_SIZE, the most it takes at once)")
    parser.add_argument("--live", type=int, default=5000, help="live changes applied after "
                        "the backfill (bench/live_latency.py's), in batches of --live-batch")
    parser.add_argument("--live-batch", type=int, default=250,
                        help="events per transaction for the live changes (500/s, 0.5 s)")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="print the N statements taking most of PostgreSQL's planning + "
                        "execution time after each phase (pg_stat_statements)")
    parser.add_argument("--analyze", action="store_true",
                        help="ANALYZE the store after the backfill, as autovacuum does within a "
                        "minute in a running stack (the backfill alone is shorter: without it the "
                        "live changes are planned on tables PostgreSQL has no statistics of)")
    parser.add_argument("--default-collector", action="store_true",
                        help="leave CPython's garbage collector as it is, instead of setting it "
                        "as the processor's workers do (streams/heap.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings, city, events = private_city(Path(tmp), args.persons, args.seed)
        postgres.start(settings)
        try:
            if args.statements:
                load_statement_stats(settings)
            store, backend = opened_store(settings, city, events[0])
            if args.statements:
                reset_statement_stats(settings)
            if not args.default_collector:
                settle_heap()
            collector = CollectorClock()
            backfill = timed(store, backend, events[1:], args.batch)
            print(collector.lap(len(events) - 1))
            if args.statements:
                print(statement_stats(settings, len(events) - 1, args.statements))
                print(f"  hub.resident_history now holds "
                      f"{history_rows(settings) / len(events):.2f} rows per record")
                reset_statement_stats(settings)
            scores = store_scores(settings, read_truth(city / "truth.csv"))
            changes = live_changes(city, "bench")
            live = [ConsumedEvent(event, "bench", 1, offset)
                    for offset, (_, _, event) in zip(range(args.live), changes, strict=False)]
            print(f"| {args.persons:,} | backfill {len(events):,} | {args.batch} | {backfill} |"
                  f" {scores.precision:.4f} | {scores.recall:.4f} |")
            if args.analyze:
                with admin(settings) as cur:
                    cur.execute("ANALYZE")
            collector.reset()  # the scores and the changes made meanwhile are not the merge's
            live_row = (f"| {args.persons:,} | live {len(live):,} | {args.live_batch} | "
                        f"{timed(store, backend, live, args.live_batch)} | | |")
            print(collector.lap(len(live)))
            if args.statements:
                print(statement_stats(settings, len(live), args.statements))
            print(live_row)
            store.close()
        finally:
            remove_private_postgres(settings)


if __name__ == "__main__":
    main()
