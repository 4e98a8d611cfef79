"""Merge quality and speed through the real stack: precision / recall of the streamed merge.

Run by hand, never by CI:

    .venv/bin/python bench/merge_quality.py [--persons 20000] [--seed 7] [--noise 1] [--city DIR]

Starts a private stack (temporary state directory, free ports), generates a city with
`sanwang generate` (or takes a city's folder, e.g. the contract's five-department sample
tests/fixtures/sample5, with --city), runs one `sanwang process` worker, backfills the exports
the city has through Kafka, waits until the
processor has merged everything, and scores `hub.source_links` against the city's truth.csv
with `sanwang eval`'s code. Prints one Markdown row.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness import (
    EXPORTS,
    load_grids,
    private_stack,
    spawn_workers,
    stop_workers,
    wait_until_settled,
)

from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", type=int, default=1, help="the generator's noise level")
    parser.add_argument("--city", type=Path, help="a city's folder instead of a generated one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        city = args.city or Path(tmp) / "city"
        if not args.city:
            generate_city(args.persons, args.seed, city, noise=args.noise)
        with private_stack(Path(tmp) / "home") as settings:
            load_grids(settings, city)
            workers = spawn_workers(settings, 1)
            try:
                started = time.monotonic()
                records = sum(backfill_file(settings, d, city / name, progress=False).published
                              for d, name in EXPORTS if (city / name).exists())
                published = time.monotonic() - started
                wait_for_processor(settings, timeout=3600)
                merged = time.monotonic() - started
                relinked = wait_until_settled(settings) - started
                scores = store_scores(settings, read_truth(city / "truth.csv"))
            finally:
                stop_workers(workers)
    name = str(args.city) if args.city else (f"generated {args.persons} persons, seed"
                                              f" {args.seed}, noise {args.noise}")
    print("| city | records | precision | recall | F1 | published in | merged in | merged/s |"
          " settled in |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {name} | {records} | {scores.precision:.4f} | {scores.recall:.4f} | "
          f"{scores.f1:.4f} | {published:.0f} s | {merged:.0f} s | {records / merged:.0f} |"
          f" {relinked:.0f} s |")


if __name__ == "__main__":
    main()
