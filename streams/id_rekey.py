"""Seal every ID number in the store again under the keyring's current key (`sanwang ids rekey`).

The second step of a rotation (deploy/DEPLOYING.md). Rows are rewritten in batches, each in its
own transaction under the merge's lock, so processor workers may keep running; a value already
sealed under the current key is left alone (sealing is deterministic), so running it again
rewrites nothing. Lookup hashes (of blocking keys, residents, relatives) stay: rotations leave
the lookup key alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from psycopg2.extras import execute_values

from deploy.locks import MERGE_LOCK
from streams import id_protection as ids
from streams.json_text import json_text, json_value

BATCH = 500


def rekey_store(conn: Any, keyring: ids.Keyring) -> Counter:
    """Rows rewritten, by table."""
    def document(value: Any) -> Any:
        return ids.seal_document(keyring, ids.open_document(keyring, value))

    def number(value: str | None) -> str | None:
        return value and ids.seal(keyring, ids.open_sealed(keyring, value))

    def facts(text: str) -> str:
        stored = json_value(text)
        again = [[a, document(v), when] for a, v, when in stored]
        return text if again == stored else json_text(again)

    counts: Counter = Counter()
    counts["events"] = _rewrite(conn, "hub.events", "event_id", "payload", "bytea",
                                lambda p: ids.seal_bytes(keyring, ids.open_bytes(keyring, p)))
    for column, change in (("id_sealed", number), ("id_digits_sealed", number),
                           ("spouses_sealed", number), ("facts", facts)):
        counts["source_records"] += _rewrite(conn, "hub.source_records", "ref", column, "text",
                                             change)
    counts["golden_values"] = _rewrite(conn, "hub.golden_values",
                                       "resident_id || '|' || attribute", "value", "jsonb",
                                       document)
    counts["conflicts"] = _rewrite(conn, "hub.conflicts", "conflict_id::text", "details",
                                   "jsonb", document)
    counts["residents"] = _rewrite(conn, "hub.residents", "resident_id", "id_number_sealed",
                                   "text", number)
    return counts


def _rewrite(conn: Any, table: str, key: str, column: str, kind: str,
             change: Callable[[Any], Any]) -> int:
    """Apply `change` to one column, batch by batch in key order."""
    done, after = 0, ""
    while True:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            cur.execute(f"SELECT {key} AS k, {column} FROM {table} WHERE {key} > %s"
                        f" ORDER BY {key} LIMIT %s FOR UPDATE", (after, BATCH))
            rows = cur.fetchall()
            if not rows:
                return done
            after = rows[-1][0]
            rows = [(k, bytes(v) if isinstance(v, memoryview) else v) for k, v in rows]
            changed = [(k, _literal(new, kind)) for k, value in rows
                       if value is not None and (new := change(value)) != value]
            execute_values(cur, f"UPDATE {table} t SET {column} = v.value::{kind} FROM"
                                f" (VALUES %s) AS v (k, value) WHERE t.{key} = v.k", changed)
            done += len(changed)


def _literal(value: Any, kind: str) -> Any:
    """A new value as the UPDATE's VALUES list takes it for a column of `kind`."""
    if kind == "jsonb":
        return json_text(value)
    if kind == "bytea":
        return "\\x" + bytes(value).hex()
    return value
