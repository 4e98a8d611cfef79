"""How the merge's blocks grow with the city: the records it reads and compares per change.

Run by hand, never by CI (pure, no stack):

    .venv/bin/python bench/block_growth.py --persons 20000 200000 [--seed 7]

For each city size it generates the city, maps every record of the three exports as the
connectors do, takes its blocking keys (`streams.matching.blocking_keys`) and counts, for each
kind of key, the blocks and the records a record meets under that kind: the sum, over blocks,
of size squared, divided by the records (blocks over `MAX_BLOCK` are skipped, as the merge skips
them). The streaming merge loads and compares about that many stored records for every changed
record, so a kind whose figure grows with the city makes the merge's cost per record grow with
it, and a whole backfill grow with the square of the city. The one-deletion ID keys (`id~`) are
left out: their blocks hold a number and its typos, whatever the city's size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from store_throughput import EXPORTS, department_events  # bench/ runs its scripts by path

from connectors.synthetic_city import generate_city
from streams.features import features_of
from streams.matching import blocking_keys
from streams.resolve import MAX_BLOCK


def block_sizes(city: Path) -> tuple[int, Counter]:
    """The number of records, and the size of every block (key -> records under it)."""
    records, sizes = 0, Counter()
    for department, name in EXPORTS:
        for event in department_events(city, department, name):
            records += 1
            sizes.update(k for k in blocking_keys(features_of(event)) if not k.startswith("id~"))
    return records, sizes


def rows(persons: int, records: int, sizes: Counter) -> list[str]:
    """One Markdown row per key kind: blocks, mean and largest block, records met per record."""
    kinds: dict[str, list[int]] = {}
    for key, size in sizes.items():
        kinds.setdefault(key.split(":", 1)[0], []).append(size)
    out = []
    for kind, found in sorted(kinds.items()):
        met = sum(s * s for s in found if s <= MAX_BLOCK) / records
        skipped = sum(1 for s in found if s > MAX_BLOCK)
        out.append(f"| {persons:,} | {records:,} | {kind} | {len(found):,} | "
                   f"{sum(found) / len(found):.1f} | {max(found):,} | {skipped} | {met:.1f} |")
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
            records, sizes = block_sizes(Path(tmp))
            print("\n".join(rows(persons, records, sizes)), flush=True)
            print(f"<!-- {persons:,} persons: {time.monotonic() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
