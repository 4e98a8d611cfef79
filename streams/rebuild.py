"""`sanwang rebuild`: derive the store again from the landed events (after migration 013).

Everything the merge derives (records' features and facts, keys, edges, residents, golden
values, conflicts, findings) is worked out again from hub.events, batch by batch in the order
they landed, by the merge itself; events landed before migration 013 are sealed again in its
form on the way. Residents keep the ids they had (by most of their records), and the change
feed is not flooded: the entries the rebuild makes are marked sent. It holds the merge lock
exclusively, so processors wait; running it again continues where it stopped (a record's version
already stored is skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from deploy.id_keys import process_keyring
from deploy.locks import MERGE_LOCK
from deploy.postgres import connect
from schemas.events import canonical_json
from streams import id_protection as ids
from streams.json_text import json_value
from streams.merge import merge_events
from streams.parameter_store import load_parameters
from streams.resident_store import store_owners

BATCH = 2000
RESIDENT_TABLES = ("residents", "golden_values", "source_links", "resident_findings",
                   "conflicts")


def _events(conn: Any) -> Iterator[list[tuple[str, dict[str, Any], bool]]]:
    """Batches of (event id, event, sealed the old way) in landing order."""
    keyring = process_keyring()
    with conn.cursor(name="landed") as cur:
        cur.itersize = BATCH
        cur.execute("SELECT event_id, payload, payload_v1 FROM hub.events"
                    " ORDER BY stored_at, event_id")
        batch = []
        for event_id, payload, old in cur:
            if payload is not None:
                batch.append((event_id, json_value(ids.open_bytes(keyring, payload)), False))
            else:
                batch.append((event_id, ids.open_document(keyring, old), True))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def rebuild_store(dsn: str, on_batch: Callable[[int], None] = lambda n: None) -> int:
    """Merge every landed event again; returns how many events were read."""
    keyring = process_keyring()
    conn, reader = connect(dsn), connect(dsn)  # the events stream on a connection of its own
    try:
        return _rebuild(conn, reader, keyring, on_batch)
    finally:
        reader.close()
        conn.close()


def _rebuild(conn: Any, reader: Any, keyring: ids.Keyring, on_batch: Callable[[int], None]
             ) -> int:
    with conn, conn.cursor() as cur:
        store_owners(cur)
        parameters = load_parameters(cur).parameters
        cur.execute("SELECT coalesce(max(seq), 0) FROM hub.change_outbox")
        (first_change,) = cur.fetchone()
    total = 0
    for batch in _events(reader):
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            old = [(event_id, "\\x" + ids.seal_bytes(keyring, canonical_json(e)).hex())
                   for event_id, e, was_old in batch if was_old]
            if old:
                cur.execute("UPDATE hub.events e SET payload = v.p::bytea, payload_v1 = NULL"
                            " FROM unnest(%s::text[], %s::text[]) AS v (id, p)"
                            " WHERE e.event_id = v.id",
                            ([i for i, _ in old], [p for _, p in old]))
            merge_events(cur, [e for _, e, _ in batch], parameters)
        total += len(batch)
        on_batch(len(batch))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
        _keep_resident_ids(cur)
        cur.execute("UPDATE hub.change_outbox SET sent_at = now()"
                    " WHERE seq > %s AND sent_at IS NULL", (first_change,))
    return total


def _keep_resident_ids(cur: Any) -> None:
    """Give each resident the id most of its records had before (hub.source_links_v1), one
    resident per old id; then forget the old links."""
    cur.execute("SELECT to_regclass('hub.source_links_v1') IS NOT NULL")
    if not cur.fetchone()[0]:
        return
    cur.execute("""
        CREATE TEMP TABLE renames ON COMMIT DROP AS
        WITH votes AS (
            SELECT l.resident_id AS new_id, o.resident_id AS old_id, count(*) AS n
              FROM hub.source_links l JOIN hub.source_links_v1 o USING (ref)
             GROUP BY 1, 2),
        ranked AS (
            SELECT new_id, old_id,
                   row_number() OVER (PARTITION BY old_id ORDER BY n DESC, new_id) AS by_old,
                   row_number() OVER (PARTITION BY new_id ORDER BY n DESC, old_id) AS by_new
              FROM votes)
        SELECT new_id, old_id FROM ranked
         WHERE by_old = 1 AND by_new = 1 AND new_id <> old_id""")
    for table in RESIDENT_TABLES:
        cur.execute(f"UPDATE hub.{table} t SET resident_id = r.old_id FROM renames r"
                    " WHERE t.resident_id = r.new_id")
    cur.execute("DROP TABLE hub.source_links_v1")
