"""Data stewards' work on the store: conflicts, the review queue, confirm, reject and split.

A decision is stored in `hub.steward_decisions` and the affected component is clustered again
at once, in the same transaction. A confirm is a must-link edge, a reject or a split a
must-not-link between records: the merge honours both from then on, so a split is never undone
by later automatic matching. For one pair of records the latest decision stands (a steward may
change their mind).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2.extras

from deploy.errors import InputError
from deploy.id_keys import process_keyring
from deploy.locks import MERGE_LOCK
from streams import id_protection as ids
from streams.merge_summary import MergeSummary
from streams.regroup import recluster


class StewardError(InputError):
    """The decision cannot be made (unknown record or resident, wrong state); says why."""


class UnknownToTheStore(StewardError):
    """The decision names a record, resident or conflict the store does not hold."""


class RefusedByTheGrouping(StewardError):
    """The store's current grouping forbids the decision (records not of that resident, a
    split that would leave none)."""


def open_conflicts(conn: Any, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT conflict_id, resident_id, kind, attribute, details, opened_at"
                    " FROM hub.conflicts WHERE status = 'open' ORDER BY conflict_id"
                    " LIMIT %s OFFSET %s", (limit, offset))
        keyring = process_keyring()  # a steward weighs the numbers themselves
        return [{**row, "details": ids.open_document(keyring, row["details"])}
                for row in cur.fetchall()]


def open_reviews(conn: Any, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT a, b, score, agreed FROM hub.review_queue WHERE status = 'open'"
                    " ORDER BY score DESC, a, b LIMIT %s OFFSET %s", (limit, offset))
        return [dict(row) for row in cur.fetchall()]


def _decide(conn: Any, kind: str, pairs: Sequence[tuple[str, str]], steward: str,
            note: str | None) -> MergeSummary:
    if any(a == b for a, b in pairs):
        raise StewardError("a decision needs two different records")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
        refs = sorted({r for pair in pairs for r in pair})
        cur.execute("SELECT ref FROM hub.source_records WHERE ref = ANY(%s)", (refs,))
        unknown = set(refs) - {ref for (ref,) in cur.fetchall()}
        if unknown:
            raise UnknownToTheStore(f"unknown records: {', '.join(sorted(unknown))}")
        for a, b in pairs:
            cur.execute("INSERT INTO hub.steward_decisions (kind, a, b, steward, note)"
                        " VALUES (%s, %s, %s, %s, %s)", (kind, min(a, b), max(a, b), steward,
                                                          note))
            cur.execute("UPDATE hub.review_queue SET status = %s WHERE a = %s AND b = %s",
                        ("confirmed" if kind == "confirm" else "rejected", min(a, b), max(a, b)))
        return recluster(cur, refs)


def confirm(conn: Any, a: str, b: str, steward: str, note: str | None = None) -> MergeSummary:
    """These two records are one person."""
    return _decide(conn, "confirm", [(a, b)], steward, note)


def reject(conn: Any, a: str, b: str, steward: str, note: str | None = None) -> MergeSummary:
    """These two records are different people."""
    return _decide(conn, "split", [(a, b)], steward, note)


def split(conn: Any, resident: str, records: Sequence[str], steward: str,
          note: str | None = None) -> MergeSummary:
    """Take `records` out of `resident`: they are not the same person as its other records."""
    with conn.cursor() as cur:
        cur.execute("SELECT ref FROM hub.source_links WHERE resident_id = %s", (resident,))
        members = {ref for (ref,) in cur.fetchall()}
    if not members:
        raise UnknownToTheStore(f"no resident {resident}")
    outside = set(records) - members
    if outside:
        raise RefusedByTheGrouping(f"not records of {resident}: {', '.join(sorted(outside))}")
    rest = sorted(members - set(records))
    if not rest:
        raise RefusedByTheGrouping("a split must leave at least one record in the resident")
    return _decide(conn, "split", [(a, b) for a in sorted(records) for b in rest], steward, note)


def resolve_conflict(conn: Any, conflict_id: int, steward: str, note: str | None = None) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE hub.conflicts SET status = 'resolved', details = details ||"
                    " jsonb_build_object('resolved_by', %s, 'note', %s)"
                    " WHERE conflict_id = %s AND status = 'open'", (steward, note, conflict_id))
        if cur.rowcount == 0:
            raise UnknownToTheStore(f"no open conflict {conflict_id}")
