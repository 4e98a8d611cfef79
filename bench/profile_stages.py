"""Where the store step's time goes, by stage of the merge, from a py-spy raw profile.

Run by hand, never by CI:

    py-spy record -r 50 -f raw -o merge.raw -- \\
        .venv/bin/python bench/store_throughput.py --persons 5000 --live 2000
    .venv/bin/python bench/profile_stages.py merge.raw

Each sample counts for the first stage (in the order below) whose function is on its stack, so
a stage's share holds everything beneath it: Python work, and the waits for PostgreSQL the
calls make (py-spy samples a thread blocked in libpq too). Samples outside
`HubStore._apply_once` (generating the city, mapping the exports) are left out.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (stage, functions): the more specific stages first, as a sample counts for the first match
STAGES = (
    ("prepare: features, observations, keys (pure)",
     ("features_of", "observations_of", "record_rows", "keys_of", "protected_keys")),
    ("lock keys, upsert records, replace keys", ("lock_keys", "upsert_records", "replace_keys")),
    ("read candidates (keys, features)", ("refs_sharing_keys", "load_features")),
    ("compare candidates", ("edges_among",)),
    ("write edges", ("replace_edges",)),
    ("find and lock the component", ("_locked_component",)),
    ("cluster", ("cluster", "edges_within", "splits_within")),
    ("read observations", ("load_observations",)),
    ("golden record, history, grid, findings (pure)",
     ("golden_record", "history", "normalize_address", "grid_of", "findings_of",
      "load_gazetteer")),
    ("write residents, links, review, changes",
     ("rewrite_residents", "write_links", "replace_review_items", "add_changes",
      "findings_of_residents", "edges_touching")),
    ("the merge's own lines", ("merge_events",)),
    ("land events (seal, insert)", ("_apply_once",)),
)


def stage_of(functions: set[str]) -> str:
    for stage, names in STAGES:
        if any(name in functions for name in names):
            return stage
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record -f raw output")
    args = parser.parse_args()
    shares: Counter = Counter()
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # "HubStore._apply_once.<locals>.<listcomp>" counts for _apply_once and HubStore
        functions = {part for frame in stack.split(";")
                     for part in frame.split(" (", 1)[0].split(".")}
        if "_apply_once" in functions:
            shares[stage_of(functions)] += int(count)
    total = sum(shares.values())
    print(f"| stage | share of the store step ({total:,} samples) |\n|---|---:|")
    for stage in [stage for stage, _ in STAGES] + ["other"]:
        print(f"| {stage} | {shares[stage] / total:.1%} |")


if __name__ == "__main__":
    main()
