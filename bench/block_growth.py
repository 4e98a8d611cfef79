"""How the merge's blocks grow with the city: the records it reads and compares per change.

Run by hand, never by CI (pure, no stack):

    .venv/bin/python bench/block_growth.py --persons 20000 200000 [--seed 7]

For each city size it generates the city, maps every record of the three exports as the
connectors do, takes its blocking keys (`streams.matching.keys_of`) and counts, for each kind of
key, the blocks records are stored under and the records a record meets under that kind: for
every key, the records looking it up times the records stored under it, divided by the records
(blocks over `MAX_BLOCK` are skipped, as the merge skips them). The streaming merge loads and
compares about that many stored records for every changed record, so a kind whose figure grows
with the city makes the merge's cost per record grow with it, and a whole backfill grow with the
square of the city. ID-number typo keys (`id~`, and the valid neighbours an untrusted number
looks up) are left out: their blocks hold a number and its typos, whatever the city's size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from store_throughput import city_features  # bench/ runs its scripts by path

from connectors.synthetic_city import generate_city
from streams.matching import keys_of
from streams.resolve import MAX_BLOCK


def block_counts(city: Path) -> tuple[int, Counter, Counter]:
    """The number of records, and for every key the records stored under it and looking it up."""
    records, stored, looked_up = 0, Counter(), Counter()
    for features in city_features(city):
        records += 1
        keys = keys_of(features)
        stored.update(k for k in keys.stored if not k.startswith("id~"))
        looked_up.update(k for k in keys.lookup if not k.startswith("id")
                         or k.startswith("id:") and k in keys.stored)
    return records, stored, looked_up


def rows(persons: int, records: int, stored: Counter, looked_up: Counter) -> list[str]:
    """One Markdown row per key kind: blocks, mean and largest block, records met per record."""
    kinds: dict[str, list[str]] = {}
    for key in stored.keys() | looked_up.keys():
        kinds.setdefault(key[:2], []).append(key)  # pk, id, nb, na, bd, bm, bp
    out = []
    for kind, keys in sorted(kinds.items()):
        sizes = [stored[k] for k in keys if stored[k]]
        met = sum(looked_up[k] * stored[k] for k in keys if stored[k] <= MAX_BLOCK) / records
        skipped = sum(1 for s in sizes if s > MAX_BLOCK)
        out.append(f"| {persons:,} | {records:,} | {kind} | {len(sizes):,} | "
                   f"{sum(sizes) / max(len(sizes), 1):.1f} | {max(sizes, default=0):,} | "
                   f"{skipped} | {met:.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print("| persons | records | key | blocks | mean size | largest | over MAX_BLOCK "
          "| records met per record |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for persons in args.persons:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            generate_city(persons, args.seed, Path(tmp))
            records, stored, looked_up = block_counts(Path(tmp))
            print("\n".join(rows(persons, records, stored, looked_up)), flush=True)
            print(f"<!-- {persons:,} persons: {time.monotonic() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
