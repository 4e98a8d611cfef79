"""Link the queued records again with the current parameters, a batch per transaction.

Any number of workers (and `sanwang estimate`) can work through the queue side by side: each
takes its batch with SKIP LOCKED, under the merge lock shared like a merge, and leaves a recheck
like a merge (streams/merge.py), so records merged meanwhile are met either way.
"""

from __future__ import annotations

from typing import Any

from deploy.locks import MERGE_LOCK
from streams.merge import link_again
from streams.merge_summary import MergeSummary
from streams.parameter_store import load_parameters

BATCH = 500


def may_relink(behind: int | None, batch_size: int) -> bool:
    """Whether a processor links queued records again now (pure): only while the consumer
    group is no more than one merge batch behind (`behind`: its lag as last seen, None before
    it was), so new events go first. A relink batch holds its residents' locks for its whole
    transaction: two workers relinking side by side made a backfill's merges wait the whole
    relink out, and the store, where nothing landed meanwhile, then looked quiet to
    streams/reestimate.py (bench/README.md, "a bounded estimate")."""
    return behind is not None and behind <= batch_size


def relink_some(cur: Any, limit: int = BATCH) -> tuple[int, MergeSummary] | None:
    """Take up to `limit` queued records and link them again: how many, and what that did;
    None when none is waiting. They are taken in block order (birth year, surname, pinyin,
    birth date, as queued by streams/parameter_store.py), so a batch's records are mostly one
    another's candidates: in ref order, each found ~25 records outside the batch, and fetching
    and comparing those took most of a relink (bench/README.md, "relinking in block order")."""
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
    cur.execute("DELETE FROM hub.relink_pending WHERE ref IN (SELECT ref FROM hub.relink_pending"
                " ORDER BY block, ref LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING ref", (limit,))
    refs = {ref for (ref,) in cur.fetchall()}
    if not refs:
        return None
    summary = MergeSummary()
    link_again(cur, refs, load_parameters(cur).parameters, summary)
    return len(refs), summary


def pending(cur: Any) -> int:
    """Records still waiting to be linked again."""
    cur.execute("SELECT count(*) FROM hub.relink_pending")
    return cur.fetchone()[0]
