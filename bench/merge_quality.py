"""Merge quality and speed through the real stack: precision / recall of the streamed merge.

Run by hand, never by CI:

    .venv/bin/python bench/merge_quality.py [--persons 20000] [--seed 7] [--sample]

Starts a private stack (temporary state directory, free ports), generates a city with
`sanwang generate` (or takes the contract's sample city with --sample), runs one `sanwang
process` worker, backfills the three departments' exports through Kafka, waits until the
processor has merged everything, and scores `hub.source_links` against the city's truth.csv
with `sanwang eval`'s code. Prints one Markdown row.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cli.demo import DEFAULT_SAMPLE as SAMPLE
from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from deploy import postgres
from deploy.private_stack import private_settings, settings_env
from deploy.stack import down, up
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample", action="store_true", help="the contract's sample city")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = private_settings(Path(tmp) / "home")
        city = SAMPLE if args.sample else Path(tmp) / "city"
        if not args.sample:
            generate_city(args.persons, args.seed, city)
        up(settings, say=lambda line: None)
        subprocess.run([sys.executable, "-m", "cli.main", "grids", str(city / "grids.csv")],
                       env=settings_env(settings), check=True, capture_output=True)
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "process", "--loglevel",
                                   "warning"], env=settings_env(settings),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            records = sum(backfill_file(settings, d, city / name, progress=False).published
                          for d, name in EXPORTS)
            published = time.monotonic() - started
            wait_for_processor(settings, timeout=3600)
            merged = time.monotonic() - started
            scores = store_scores(settings, read_truth(city / "truth.csv"))
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            down(settings, say=lambda line: None)
            shutil.rmtree(postgres.cluster_dir(settings), ignore_errors=True)
    name = "sample" if args.sample else f"generated {args.persons} persons, seed {args.seed}"
    print("| city | records | precision | recall | F1 | published in | merged in | merged/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {name} | {records} | {scores.precision:.4f} | {scores.recall:.4f} | "
          f"{scores.f1:.4f} | {published:.0f} s | {merged:.0f} s | {records / merged:.0f} |")


if __name__ == "__main__":
    main()
