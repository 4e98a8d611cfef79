"""Seal every ID number in the store again under the keyring's current key (`sanwang ids rekey`).

The second step of a rotation (deploy/DEPLOYING.md); it also seals what a store written before
migration 008 holds in clear. Rows are rewritten in batches, each in its own transaction under
the merge's lock, so processor workers may keep running; a row already sealed under the current
key is left alone (sealing is deterministic), so running it again rewrites nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from psycopg2.extras import execute_values

from streams import id_protection as ids
from streams.merge import MERGE_LOCK

BATCH = 500


def rekey_store(conn: Any, keyring: ids.Keyring) -> Counter:
    """Rows rewritten, by table."""
    def again(value: Any) -> Any:
        return ids.seal_document(keyring, ids.open_document(keyring, value))

    counts: Counter = Counter()
    counts["events"] = _rewrite(conn, "hub.events", "event_id", "payload",
                                lambda p: ids.seal_event(keyring, ids.open_document(keyring, p)))
    counts["source_records"] = _rewrite(
        conn, "hub.source_records", "ref", "features",
        lambda f: ids.seal_features(keyring, ids.open_document(keyring, f)))
    counts["source_records"] += _rewrite(conn, "hub.source_records", "ref", "observations",
                                         again)
    counts["residents"] = _rewrite(conn, "hub.residents", "resident_id", "attributes", again)
    counts["conflicts"] = _rewrite(conn, "hub.conflicts", "conflict_id", "details", again,
                                   start=0)
    history, numbers = _history_and_numbers(conn, keyring, again)
    counts["resident_history"] = history
    counts["residents"] += numbers
    counts["record_keys"] = _record_keys(conn, keyring)
    return counts


def _rewrite(conn: Any, table: str, key: str, column: str, change: Callable[[Any], Any],
             start: str | int = "") -> int:
    """Apply `change` to one jsonb column, batch by batch in key order (from above `start`)."""
    done, after = 0, start
    while True:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            cur.execute(f"SELECT {key}, {column} FROM {table} WHERE {key} > %s"
                        f" ORDER BY {key} LIMIT %s FOR UPDATE", (after, BATCH))
            rows = cur.fetchall()
            if not rows:
                return done
            after = rows[-1][0]
            changed = [(k, json.dumps(new, ensure_ascii=False)) for k, value in rows
                       if (new := change(value)) != value]
            execute_values(cur, f"UPDATE {table} t SET {column} = v.value::jsonb FROM"
                                f" (VALUES %s) AS v (k, value) WHERE t.{key} = v.k", changed)
            done += len(changed)


def _history_and_numbers(conn: Any, keyring: ids.Keyring, again: Callable[[Any], Any]
                         ) -> tuple[int, int]:
    """History values, then each resident's number columns from its current history value
    (what the merge wrote there, and what a store before 008 kept only in history)."""
    history = residents = 0
    after = ""
    while True:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            cur.execute("SELECT resident_id, id_number_sealed, id_number_hash, id_number_masked"
                        " FROM hub.residents WHERE resident_id > %s ORDER BY resident_id"
                        " LIMIT %s FOR UPDATE", (after, BATCH))
            stored = {r: tuple(columns) for r, *columns in cur.fetchall()}
            if not stored:
                return history, residents
            after = max(stored)
            cur.execute("SELECT ctid::text, resident_id, attribute, value, valid_to"
                        " FROM hub.resident_history WHERE resident_id = ANY(%s)", (list(stored),))
            changed, numbers = [], dict.fromkeys(stored)
            for ctid, resident, attribute, value, valid_to in cur.fetchall():
                new = again(value)
                if new != value:
                    changed.append((ctid, json.dumps(new, ensure_ascii=False)))
                if attribute == "id_number" and valid_to is None:
                    numbers[resident] = ids.open_document(keyring, value)
            execute_values(cur, "UPDATE hub.resident_history h SET value = v.value::jsonb FROM"
                                " (VALUES %s) AS v (ctid, value) WHERE h.ctid = v.ctid::tid",
                           changed)
            columns = [(r, *ids.resident_columns(keyring, n)) for r, n in numbers.items()
                       if ids.resident_columns(keyring, n) != stored[r]]
            execute_values(cur, "UPDATE hub.residents r SET id_number_sealed = v.s,"
                                " id_number_hash = v.h, id_number_masked = v.m FROM"
                                " (VALUES %s) AS v (id, s, h, m) WHERE r.resident_id = v.id",
                           columns)
            history += len(changed)
            residents += len(columns)


def _record_keys(conn: Any, keyring: ids.Keyring) -> int:
    """Blocking keys a store before 008 kept in clear (a hashed one is 35 characters long)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
        cur.execute("SELECT DISTINCT key FROM hub.record_keys"
                    " WHERE key ~ '^id[:~]' AND length(key) < 35")
        clear = [(key, ids.protect_key(keyring, key)) for (key,) in cur.fetchall()]
        execute_values(cur, "UPDATE hub.record_keys k SET key = v.hashed FROM"
                            " (VALUES %s) AS v (key, hashed) WHERE k.key = v.key", clear)
        return len(clear)
