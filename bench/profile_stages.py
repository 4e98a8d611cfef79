"""Where the store step's time goes, by stage of the merge, from a py-spy raw profile.

Run by hand, never by CI:

    py-spy record -r 50 -f raw -o merge.raw -- \\
        .venv/bin/python bench/store_throughput.py --persons 5000 --live 2000
    .venv/bin/python bench/profile_stages.py merge.raw

Each sample counts for the first stage (in the order below) whose function is on its stack, so
a stage's share holds everything beneath it: Python work, and the waits for PostgreSQL the
calls make (py-spy samples a thread blocked in libpq too). Samples outside `HubStore.apply`
(generating the city, mapping the exports) are left out. A recheck's work counts as "recheck"
until it merges records again; that merge counts in the stages it runs through.

`--processor` reads instead a profile of whole `sanwang process` workers, taken with py-spy's
`--subprocesses` on `city_scale.py`, and splits their samples between the store step, the
change feed's relay, consuming (faust, aiokafka, decoding) and the rest:

    py-spy record -s -r 50 -f raw -o e2e.raw -- \\
        .venv/bin/python bench/city_scale.py --persons 5000 --skip-live
    .venv/bin/python bench/profile_stages.py --processor e2e.raw

or of workers alone, `py-spy record --pid <worker>` (every sample is then a worker's): the live
phase's, say, started once `city_scale.py` prints its store's size.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (stage, functions): the more specific stages first, as a sample counts for the first match
STAGES = (
    ("prepare: features, facts, keys (pure)",
     ("features_of", "observations_of", "relatives_of", "record_row", "keys_of",
      "protected_keys")),
    ("upsert records, keys, relations", ("upsert_records", "replace_keys",
                                         "replace_relations")),
    ("read candidates (keys, features)", ("candidates", "load_features")),
    ("compare candidates", ("edges_under", "_by_key")),
    ("write edges", ("replace_edges",)),
    ("join: lock, read members", ("lock_residents", "load_members", "residents_of")),
    ("find and lock the component", ("_locked_component", "component_around")),
    ("cluster", ("cluster", "edges_within", "splits_within")),
    ("read facts", ("load_facts", "facts_of")),
    ("golden record, grid, conflicts, findings (pure)", ("resident_states", "load_gazetteer")),
    ("write residents, links, review, changes",
     ("write_states", "load_stored", "write_links", "load_links", "replace_review_items",
      "add_changes", "edges_touching")),
    ("the merge's own lines", ("merge_events", "_link", "_join", "_plan", "recluster",
                               "write_groups")),
    ("land events (seal, insert), commit", ("apply",)),
)
RECHECK = "recheck: claim, look for unseen records"


# (part of a worker, text on the sample's stack): the first match counts; "waiting" matches the
# innermost frame only
PROCESSOR_PARTS = (
    ("store step (land + merge + recheck)", ("HubStore.apply (",)),
    ("change feed: relay and producer", ("relay_changes", "aiokafka/producer/",
                                         "Topic.publish_message")),
    ("decode events", ("_decode (streams/app.py",)),
    ("waiting (event loop, thread pool)", ("select (selectors.py", "_worker (concurrent/")),
    ("consume: fetch requests (aiokafka)", ("Fetcher._proc_fetch_request (",)),
    ("consume: faust, mode, aiokafka", ("faust/", "mode/", "aiokafka/")),
)


def stage_of(functions: set[str]) -> str:
    if "recheck" in functions and "_link" not in functions:
        return RECHECK
    for stage, names in STAGES:
        if any(name in functions for name in names):
            return stage
    return "other"


def processor_part(stack: str, whole: bool) -> str | None:
    """The part of a worker a sample of `--subprocesses` belongs to; None outside workers.
    `whole`: a profile of workers alone (`py-spy record --pid <worker>`), every sample theirs."""
    if not whole and "cli.main process" not in stack:
        return None
    innermost = stack.rsplit(";", 1)[-1]
    for part, texts in PROCESSOR_PARTS:
        where = innermost if part.startswith("waiting") else stack
        if any(text in where for text in texts):
            return part
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--processor", action="store_true",
                        help="split whole workers' samples (py-spy --subprocesses)")
    args = parser.parse_args()
    shares: Counter = Counter()
    text = args.profile.read_text(errors="replace")
    whole = "cli.main process" not in text  # taken with --pid: no process frames
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        # "HubStore.apply.<locals>.land_and_merge" counts for apply, land_and_merge, HubStore
        functions = {part for frame in stack.split(";")
                     for part in frame.split(" (", 1)[0].split(".")}
        if args.processor:
            part = processor_part(stack, whole)
            if part is not None:
                shares[part] += int(count)
        elif "HubStore.apply (" in stack:
            shares[stage_of(functions)] += int(count)
    total = sum(shares.values())
    if not total:
        raise SystemExit(f"{args.profile}: no samples of the store step or of a worker")
    if args.processor:
        print(f"| part of the workers | samples | share ({total:,} samples) |\n|---|---:|---:|")
        for part in [part for part, _ in PROCESSOR_PARTS] + ["other"]:
            print(f"| {part} | {shares[part]:,} | {shares[part] / total:.1%} |")
        return
    print(f"| stage | share of the store step ({total:,} samples) |\n|---|---:|")
    for stage in [stage for stage, _ in STAGES] + [RECHECK, "other"]:
        print(f"| {stage} | {shares[stage] / total:.1%} |")


if __name__ == "__main__":
    main()
