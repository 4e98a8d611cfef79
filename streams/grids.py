"""Which grid a resident lives in: the grid reference in the store, and placing addresses.

An address is placed only when exactly one grid covers it (never guessed); the resident's other
records' addresses help complete a spelling that leaves out the township (streams/
normalize_address.py). Residents whose address cannot be placed keep an empty grid and are
listed for stewards (view hub.unplaced_residents).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from psycopg2.extras import execute_values

from deploy.errors import InputError
from streams.normalize_address import Address, Gazetteer, assign_grid, normalize_address

COLUMNS = ("网格编码", "区县代码", "区县", "乡镇街道", "村社区", "网格名称", "覆盖范围")


def read_grids_csv(path: Path) -> list[dict[str, str]]:
    """grids.csv rows; a missing column is an error naming it."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing columns {', '.join(missing)}")
        return [row for row in reader if row["网格编码"].strip()]


def store_grids(cur: Any, rows: Iterable[dict[str, str]]) -> int:
    """Replace the grid reference; checks every coverage rule first (ValueError names it)."""
    rows = list(rows)
    Gazetteer.from_rows(rows)
    cur.execute("DELETE FROM hub.grids")
    execute_values(cur, "INSERT INTO hub.grids (grid_code, district_code, district, township,"
                        " community, grid_name, coverage) VALUES %s",
                   [tuple(row[c].strip() for c in COLUMNS) for row in rows])
    return len(rows)


_loaded: dict[tuple[Any, ...], Gazetteer] = {}


def load_gazetteer(cur: Any) -> Gazetteer:
    """The stored grid reference, parsed once per version of it (a reload replaces it)."""
    cur.execute("SELECT count(*), max(loaded_at) FROM hub.grids")
    version = tuple(cur.fetchone())
    if version not in _loaded:
        cur.execute("SELECT grid_code, district_code, district, township, community, grid_name,"
                    " coverage FROM hub.grids ORDER BY grid_code")
        rows = [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]
        _loaded.clear()
        _loaded[version] = Gazetteer.from_rows(rows)
    return _loaded[version]


def grid_of(residence: str | None, spellings: Iterable[Address], gazetteer: Gazetteer
            ) -> str | None:
    """The grid code of a residence address, or None when it cannot be placed."""
    if not gazetteer.grids:
        return None
    return assign_grid(normalize_address(residence, gazetteer, spellings), gazetteer)


def reassign_grids(cur: Any) -> tuple[int, int]:
    """Place every resident again (after a new grid reference); returns (placed, unplaced)."""
    from streams.features import addresses_of

    gazetteer = load_gazetteer(cur)
    cur.execute("""
        SELECT r.resident_id, r.residence_address, array_agg(t.text ORDER BY s.ref, t.n)
          FROM hub.residents r
          JOIN hub.source_links l ON l.resident_id = r.resident_id
          JOIN hub.source_records s ON s.ref = l.ref
          LEFT JOIN LATERAL unnest(s.addresses) WITH ORDINALITY AS t (text, n) ON true
         GROUP BY r.resident_id, r.residence_address""")
    placed = []
    for resident, residence, texts in cur.fetchall():
        spellings = addresses_of(tuple(t for t in texts if t is not None))
        placed.append((resident, grid_of(residence, spellings, gazetteer)))
    execute_values(cur, "UPDATE hub.residents r SET grid_code = v.grid FROM (VALUES %s)"
                        " AS v (resident_id, grid) WHERE r.resident_id = v.resident_id", placed)
    found = sum(1 for _, grid in placed if grid)
    return found, len(placed) - found
