"""Apply the numbered SQL files in schemas/sql once each, in order, recording what was applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg2

import schemas
from deploy.errors import StoreError
from deploy.locks import MIGRATION_LOCK
from deploy.postgres import connect, location


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every schemas/sql/NNN_name.sql, in version order."""
    files = sorted((Path(schemas.__file__).parent / "sql").glob("*.sql"))
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in files]


def apply_migrations(dsn: str) -> list[str]:
    """Apply what is not applied yet, each file in its own transaction; returns their versions."""
    conn = connect(dsn)
    applied_now: list[str] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            cur.execute("CREATE SCHEMA IF NOT EXISTS hub")
            cur.execute("CREATE TABLE IF NOT EXISTS hub.schema_migrations ("
                        "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        with conn.cursor() as cur:
            cur.execute("SELECT version FROM hub.schema_migrations")
            done = {row[0] for row in cur.fetchall()}
        for version, text in migration_files():
            if version in done:
                continue
            with conn, conn.cursor() as cur:
                cur.execute(text)
                cur.execute("INSERT INTO hub.schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    finally:
        conn.close()  # closing the session releases the advisory lock
    return applied_now


def check_migrated(dsn: str) -> None:
    """StoreError naming the migrations this store lacks (the hub's tables would be missing)."""
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('hub.schema_migrations') IS NOT NULL")
            applied: set[str] = set()
            if cur.fetchone()[0]:
                cur.execute("SELECT version FROM hub.schema_migrations")
                applied = {row[0] for row in cur.fetchall()}
    except psycopg2.Error as error:
        raise StoreError(f"{location(dsn)}: {' '.join(str(error).split())}") from None
    finally:
        conn.close()
    missing = [version for version, _ in migration_files() if version not in applied]
    if missing:
        lacks = f"migrations {', '.join(missing)}" if applied else "every migration (no tables)"
        raise StoreError(f"{location(dsn)} lacks the hub's {lacks}: run `sanwang up` (or the "
                         "migrate job)")


def store_small_cell_k(cur: Any, small_cell_k: int) -> None:
    """Set the k of the small-cell rule every analyst view applies (hub.withheld_cells): the
    settings' small_cell_k, written by `sanwang up` and by each indicator refresh. A new k
    decides again which stored indicators are withheld."""
    cur.execute("UPDATE hub.small_cell_rule SET k = %s WHERE k <> %s",
                (small_cell_k, small_cell_k))
    if cur.rowcount:
        cur.execute("SELECT hub.mark_withheld_indicators()")
