"""The clean run at a city's size: precision / recall against truth, and the comparisons made.

Run by hand, never by CI (pure, no stack):

    .venv/bin/python bench/clean_run.py --persons 200000 [--seed 7]
    PYTHONPATH=<an older checkout> .venv/bin/python bench/clean_run.py ...   # that code's run

Generates the city, maps every record of the three exports as the connectors do, estimates the
parameters from the records (`streams.estimate`, as the hub does; no truth) and resolves them all
at once (`streams.resolve.resolve`, the result the streaming merge is proven to reach), counting
the pairs `compare` is asked about: the blocking's cost, where a change of keys shows first.
Prints one Markdown row.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from store_throughput import city_features  # bench/ runs its scripts by path

from connectors.synthetic_city import generate_city
from streams import resolve
from streams.estimate import estimate_parameters
from streams.evaluation import pairwise_scores, read_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_city(args.persons, args.seed, Path(tmp))
        records = list(city_features(Path(tmp)))
        truth = read_truth(Path(tmp) / "truth.csv")
    parameters = estimate_parameters(records)
    compared = 0
    compare = resolve.compare

    def counted(*args: object) -> object:
        nonlocal compared
        compared += 1
        return compare(*args)

    resolve.compare = counted  # the one name edges_under calls
    started = time.monotonic()
    groups = resolve.resolve(records, parameters)
    seconds = time.monotonic() - started
    scores = pairwise_scores({link.ref: str(i) for i, group in enumerate(groups)
                              for link in group}, truth)
    print("| persons | records | comparisons | per record | precision | recall | resolve s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.persons:,} | {len(records):,} | {compared:,} | {compared / len(records):.1f}"
          f" | {scores.precision:.6f} | {scores.recall:.6f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
