"""Rechecks: what a merge noted about its lookups, so that records written meanwhile by
concurrent merges are compared after all (streams/merge.py says why; every function runs in the
caller's transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def note_recheck(cur: Any, refs: Sequence[str]) -> None:
    """Record, before the candidate lookups, that this transaction computes these records'
    edges and what it can see: `claim_recheck` hands it to a recheck once committed."""
    cur.execute("INSERT INTO hub.merge_rechecks (writer, snapshot, refs)"
                " VALUES (pg_current_xact_id(), pg_current_snapshot(), %s)", (list(refs),))


@dataclass(frozen=True)
class Recheck:
    """A committed merge to look at again: its transaction, its lookups' snapshot, its refs."""

    recheck_id: int
    writer: str
    snapshot: str
    refs: list[str]


def claim_recheck(cur: Any) -> Recheck | None:
    """The oldest recheck no other transaction has claimed, deleted at this one's commit."""
    cur.execute("DELETE FROM hub.merge_rechecks WHERE recheck_id = (SELECT recheck_id FROM"
                " hub.merge_rechecks ORDER BY recheck_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING recheck_id, writer::text, snapshot::text, refs")
    row = cur.fetchone()
    return None if row is None else Recheck(*row)


def unseen_records(cur: Any, recheck: Recheck) -> set[str]:
    """Records written by a transaction other than the recheck's own that its snapshot could not
    see (concurrent merges, and later ones)."""
    cur.execute("""
        SELECT ref FROM hub.source_records
         WHERE writer >= pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
           AND writer <> %(writer)s::xid8
           AND NOT pg_visible_in_snapshot(writer, %(snapshot)s::pg_snapshot)""",
                {"writer": recheck.writer, "snapshot": recheck.snapshot})
    return {ref for (ref,) in cur.fetchall()}


def stored_keys(cur: Any, refs: Iterable[str]) -> set[str]:
    """The (protected) keys these records are stored under."""
    cur.execute("SELECT key FROM hub.record_keys WHERE ref = ANY(%s)", (list(refs),))
    return {key for (key,) in cur.fetchall()}


def stored_under(cur: Any, refs: Iterable[str] | None, keys: Iterable[str]) -> set[str]:
    """The records (of `refs`; None: any) stored under one of these (protected) keys."""
    if refs is None:
        cur.execute("SELECT DISTINCT ref FROM hub.record_keys WHERE key = ANY(%s)", (list(keys),))
    else:
        cur.execute("SELECT DISTINCT ref FROM hub.record_keys WHERE ref = ANY(%s)"
                    " AND key = ANY(%s)", (list(refs), list(keys)))
    return {ref for (ref,) in cur.fetchall()}


def keys_of_kind(cur: Any, refs: Iterable[str], prefix: str) -> set[str]:
    """The (protected) keys of one kind (`si:`) these records are stored under now."""
    cur.execute("SELECT key FROM hub.record_keys WHERE ref = ANY(%s) AND key LIKE %s",
                (list(refs), prefix + "%"))
    return {key for (key,) in cur.fetchall()}


def linked_to(cur: Any, refs: Sequence[str], others: Iterable[str]) -> set[str]:
    """Those of `refs` with an edge to one of `others` (both ends, when both are of `refs`).

    The edges touching the smaller set are read through the two indexes and the pairs tested
    here. Asked for pairs with one end in each list, the prepared statement's generic plan
    (which takes a list for ten rows) probed the index for every pair of the two lists: 4
    million probes, 8.6 to 10.8 s for 2,000 and 2,000 refs in a 20,000-person backfill, its
    worker's next batch waiting meanwhile (bench/README.md, "2026-12-07 (late evening)")."""
    refs, others = set(refs), set(others)
    cur.execute("SELECT a, b FROM hub.match_edges WHERE a IN (SELECT unnest(%(d)s::text[]))"
                " UNION ALL"
                " SELECT a, b FROM hub.match_edges WHERE b IN (SELECT unnest(%(d)s::text[]))",
                {"d": sorted(min(refs, others, key=len))})
    return {ref for a, b in cur.fetchall()
            if (a in refs and b in others) or (b in refs and a in others)
            for ref in (a, b) if ref in refs}
