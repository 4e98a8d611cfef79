"""What the small-cell rule costs analysts' reads and the indicator refresh.

Run by hand, never by CI:

    .venv/bin/python bench/small_cells.py [--persons 20000] [--seed 7] [--repeat 3]

Builds a store as bench/store_throughput.py does (a generated city's five exports merged straight
into a private PostgreSQL, the grid reference loaded), refreshes the indicators, then times side
by side, each the best of --repeat: every analyst count view with the rule against the same
counts without it (hub.population_counts, hub.attribute_cells, hub.indicators), and the
refresh's marking step (hub.mark_withheld_indicators) against the whole refresh. Prints one
Markdown row per pair: milliseconds with and without the rule and their ratio, under the share
of indicator cells withheld.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2
from harness import remove_private_postgres  # bench/ runs its scripts by path
from store_throughput import interleaved

from connectors.synthetic_city import generate_city
from deploy import id_keys, postgres
from deploy.migrations import apply_migrations
from deploy.private_stack import private_settings
from streams.grids import read_grids_csv, store_grids
from streams.id_protection import new_keyring
from streams.indicator_store import refresh_indicators, this_month
from streams.landing import HubStore

BATCH = 2000  # events per transaction, as bench/store_throughput.py's default
PAIRS = {  # what analysts read: (with the rule, the same counts without it)
    "population by the four levels": ("SELECT * FROM hub.analyst_population",
                                      "SELECT * FROM hub.population_counts"),
    "attribute holders by grid": ("SELECT * FROM hub.attribute_counts_by_grid",
                                  "SELECT * FROM hub.attribute_cells"),
    "monthly indicators": ("SELECT * FROM hub.analyst_indicators",
                           "SELECT * FROM hub.indicators"),
}


def best_ms(cur: Any, statement: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        cur.execute(statement)
        cur.fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = private_settings(Path(tmp) / "home")
        city = Path(tmp) / "city"
        generate_city(args.persons, args.seed, city)
        id_keys.install(new_keyring())
        postgres.start(settings)
        try:
            apply_migrations(postgres.dsn(settings))
            with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
                store_grids(cur, read_grids_csv(city / "grids.csv"))
            store = HubStore(postgres.dsn(settings, "sanwang_processor"))
            events = interleaved(city)
            for at in range(0, len(events), BATCH):
                store.apply(events[at:at + BATCH])
            store.close()
            with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
                start = time.perf_counter()
                refresh_indicators(cur, this_month(), settings.indicator_months,
                                   settings.small_cell_k)
                refresh_ms = (time.perf_counter() - start) * 1000
                mark_ms = best_ms(cur, "SELECT hub.mark_withheld_indicators()", args.repeat)
                cur.execute("SELECT count(*) FILTER (WHERE withheld), count(*) FROM hub.indicators"
                            " WHERE level IN ('community', 'grid')")
                hidden, cells = cur.fetchone()
                print(f"{args.persons:,} persons, k = {settings.small_cell_k}: {hidden:,} of "
                      f"{cells:,} stored community and grid indicator cells withheld\n")
                print("| what | with the rule, ms | without, ms | ratio |")
                print("|---|---|---|---|")
                print(f"| indicator refresh: its marking step / the whole refresh | "
                      f"{mark_ms:,.0f} | {refresh_ms:,.0f} | {mark_ms / refresh_ms:.3f} |")
                for what, (ruled, plain) in PAIRS.items():
                    with_ms = best_ms(cur, ruled, args.repeat)
                    without_ms = best_ms(cur, plain, args.repeat)
                    print(f"| {what} | {with_ms:,.0f} | {without_ms:,.0f} | "
                          f"{with_ms / without_ms:.2f} |")
        finally:
            remove_private_postgres(settings)


if __name__ == "__main__":
    main()
