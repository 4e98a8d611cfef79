"""One indicator refresh's time and memory, two checkouts side by side on the same store.

Run by hand, never by CI:

    .venv/bin/python bench/indicator_refresh.py --checkout OLD --checkout NEW
        [--persons 20000] [--seed 7] [--runs 2]

Builds a store as bench/store_throughput.py does (a generated city's five exports merged straight
into a private PostgreSQL, the grid reference loaded), then runs one refresh
(`refresh_indicators`, in a repeatable-read transaction as the processor's timer runs it, rolled
back so every run sees the same store) in a fresh Python process per run, with each checkout's
code on PYTHONPATH, alternating A B A B. Each run reports its wall seconds, its process CPU
seconds and its peak resident memory during the refresh (VmHWM, reset as the refresh begins)
less what the process held before it: the refresh's own memory. The checkouts must share the
store's schema.

With --dsn instead, one run against that store with the code on PYTHONPATH (what each side
runs), printed as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 2000  # events per transaction, as bench/store_throughput.py's default


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def measure(dsn: str) -> dict[str, float]:
    """One refresh of the store at `dsn`, rolled back."""
    import psycopg2

    from deploy.settings import HubSettings
    from streams.indicator_store import refresh_indicators, this_month

    settings = HubSettings()
    conn = psycopg2.connect(dsn)
    conn.set_session(isolation_level="REPEATABLE READ")
    try:
        with conn.cursor() as cur:
            before = _status_kib("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again here
            wall, cpu = time.perf_counter(), time.process_time()
            done = refresh_indicators(cur, this_month(), settings.indicator_months,
                                      settings.small_cell_k)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            peak = _status_kib("VmHWM")
        conn.rollback()
    finally:
        conn.close()
    return {"seconds": wall, "cpu_seconds": cpu, "refresh_mib": (peak - before) / 1024,
            "peak_mib": peak / 1024, "residents": done.residents, "cells": done.rows}


def build_store(settings: object, city: Path, events: list) -> None:
    """Merge the city's events into the started private PostgreSQL, its grids loaded, as
    bench/store_throughput.py does."""
    from store_throughput import opened_store  # bench/ runs its scripts by path

    store, _ = opened_store(settings, city, events[0])
    for at in range(1, len(events), BATCH):
        store.apply(events[at:at + BATCH])
    store.close()


def run_side(checkout: str, dsn: str) -> dict[str, float]:
    """One measured refresh in a fresh process with `checkout`'s code."""
    env = {**os.environ, "PYTHONPATH": checkout}
    done = subprocess.run([sys.executable, __file__, "--dsn", dsn], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--checkout", action="append", default=[],
                        help="a checkout whose refresh is measured (give two: A and B)")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=2, help="runs of each checkout")
    parser.add_argument("--dsn", help="measure one refresh of this store and print it as JSON")
    args = parser.parse_args()
    if args.dsn:
        print(json.dumps(measure(args.dsn)))
        return
    if len(args.checkout) != 2:
        parser.error("give two --checkout (A and B), or --dsn")
    from harness import remove_private_postgres  # bench/ runs its scripts by path
    from store_throughput import private_city

    from deploy import postgres

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        settings, city, events = private_city(Path(tmp), args.persons, args.seed)
        postgres.start(settings)
        try:
            build_store(settings, city, events)
            dsn = postgres.dsn(settings)
            print(f"{args.persons:,} persons (seed {args.seed}): store built in "
                  f"{time.perf_counter() - start:,.0f} s")
            runs: dict[str, list[dict[str, float]]] = {c: [] for c in args.checkout}
            for _ in range(args.runs):
                for checkout in args.checkout:
                    runs[checkout].append(run := run_side(checkout, dsn))
                    print(f"  {checkout}: {json.dumps(run)}", flush=True)
            print("\n| checkout | residents | wall s | CPU s | refresh MiB | peak MiB |")
            print("|---|---:|---:|---:|---:|---:|")
            for checkout, done in runs.items():
                med = {k: statistics.median(r[k] for r in done) for k in done[0]}
                print(f"| {checkout} | {med['residents']:,.0f} | {med['seconds']:.1f} | "
                      f"{med['cpu_seconds']:.1f} | {med['refresh_mib']:,.0f} | "
                      f"{med['peak_mib']:,.0f} |")
            a, b = (statistics.median(r["refresh_mib"] for r in runs[c]) for c in args.checkout)
            print(f"\nrefresh memory B/A: {b / a:.2f}")
        finally:
            remove_private_postgres(settings)


if __name__ == "__main__":
    main()
