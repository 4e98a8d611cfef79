"""Linkage quality matrix: generated cities x noise levels x seeds, the hub beside Splink.

Run by hand, never by CI, in the Splink venv of bench/splink_peer.py (Splink is a benchmark
peer, never a dependency of the hub):

    /tmp/splinkvenv/bin/python bench/quality_matrix.py --persons 5000 --noise 1 2 --seeds 1 2

Each cell: a city from the project's generator at one noise level
(connectors/synthetic_rates.py) and seed; every record of the five exports mapped with the
hub's own connectors (splink_peer.load_records); then the hub's clean run (estimate_parameters
+ resolve: the store logic without Kafka, which the streaming merge reproduces, proven by
tests/integration/test_merge_convergence.py) and Splink 5 tuned without labels exactly as
splink_peer.py does, on the same records in the same run; both scored pairwise against the
city's truth.csv. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from splink_peer import load_records, run_hub, run_splink

from connectors.synthetic_city import generate_city
from connectors.synthetic_output import EXPORTS
from streams.evaluation import PairwiseScores, pairwise_scores, read_truth

ALL_EXPORTS = {department: (name,) for department, (name, _) in EXPORTS.items()}


def cell(persons: int, noise: int, seed: int) -> str:
    """One row: the city's records, the hub's and Splink's scores and wall times."""
    with tempfile.TemporaryDirectory(prefix="quality-matrix-") as scratch:
        city = Path(scratch)
        generate_city(persons, seed, city, noise)
        records, _ = load_records(city, ALL_EXPORTS)
        truth = read_truth(city / "truth.csv")
    started = time.perf_counter()
    hub = pairwise_scores(run_hub(records), truth)
    hub_seconds = time.perf_counter() - started
    started = time.perf_counter()
    peer = pairwise_scores(run_splink(records, seed)[0], truth)
    peer_seconds = time.perf_counter() - started
    return (f"| {persons:,} | {noise} | {seed} | {len(records):,} | {_scores(hub)} | "
            f"{_scores(peer)} | {hub.f1 - peer.f1:+.4f} | {hub_seconds:.0f} / {peer_seconds:.0f} |")


def _scores(s: PairwiseScores) -> str:
    return f"{s.precision:.4f} / {s.recall:.4f} / {s.f1:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[5000])
    parser.add_argument("--noise", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print("| persons | noise | seed | records | hub P / R / F1 | Splink P / R / F1 "
          "| F1 hub - Splink | wall s hub / Splink |")
    print("|---:|---:|---:|---:|---|---|---:|---:|")
    for persons in args.persons:
        for noise in args.noise:
            for seed in args.seeds:
                print(cell(persons, noise, seed), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
