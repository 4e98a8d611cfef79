"""The processor's one write: land each event once, then merge the new ones, in one transaction.

A batch either lands and merges completely or not at all; an event already landed (a
redelivery after a crash, a file sent twice) is skipped before the merge, so delivering the same
events again changes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors

from deploy.id_keys import process_keyring
from deploy.locks import CHANGE_RELAY_LOCK, MERGE_LOCK
from schemas.events import canonical_json
from schemas.hub_events import OutboxEntry
from streams import id_protection as ids
from streams.features import department_of
from streams.matching import Parameters
from streams.merge import merge_events, recheck
from streams.merge_summary import MergeSummary
from streams.metrics import BATCH_RETRIES
from streams.parameter_store import StoredParameters, current_parameters, relink_owed
from streams.prepared import PreparingConnection
from streams.reestimate import Reestimated, StoreSize, reestimate_if_due
from streams.relink import relink_some
from streams.resident_store import store_owners
from streams.store_io import staged_rows

# A dropped connection shows as OperationalError, or, when the rollback on the way out of the
# transaction finds the connection closed, as InterfaceError: both mean "retry later".
DATABASE_GONE = (psycopg2.OperationalError, psycopg2.InterfaceError)
DEADLOCK_ATTEMPTS = 20
LANDED = ("event_id", "source", "record_id", "event_type", "occurred_at", "payload", "topic",
          "kafka_partition", "kafka_offset")
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumedEvent:
    """A canonical event with the Kafka position it was read from."""

    event: dict[str, Any]
    topic: str
    partition: int
    offset: int
    published_at: float | None = None  # the Kafka message timestamp, seconds
    raw: bytes | None = None  # the message as consumed (else the event's canonical JSON)

def land_events(cur: Any, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Store each event once (one INSERT ... SELECT skipping the ids already landed); the ids
    landed now."""
    select, params = staged_rows(cur, "hub.events", LANDED, rows)
    cur.execute(f"INSERT INTO hub.events ({', '.join(LANDED)}) {select}"
                " ON CONFLICT (event_id) DO NOTHING RETURNING event_id", params)
    return {event_id for (event_id,) in cur.fetchall()}


class HubStore:
    """One connection; `apply` is one transaction per batch."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: Any = None
        self._parameters: StoredParameters | None = None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            # the merge's statements prepared once per connection (streams/prepared.py)
            self._conn = psycopg2.connect(self._dsn, connection_factory=PreparingConnection)
            with self._conn, self._conn.cursor() as cur:
                # No JIT: the planner prices the merge's recursive component walk far above
                # jit_above_cost, and compiling it took 5 to 25 ms for a statement that runs
                # in a tenth of a millisecond (bench/README.md, "PostgreSQL's JIT").
                cur.execute("SET jit = off")
                # Index lookups priced as what they are here: the store's pages sit in
                # shared_buffers, so a random read costs about a sequential one. At the default
                # (4, for spinning disks) a batch's members were found by reading all of
                # hub.source_links (bench/README.md, "2026-12-06 (night)").
                cur.execute("SET random_page_cost = 1.1")
                store_owners(cur)
        return self._conn

    def apply(self, batch: Sequence[ConsumedEvent]) -> tuple[Counter, MergeSummary]:
        """Land and merge the batch, then run every waiting recheck (streams/merge.py), each in
        a transaction of its own; returns new events by department and what the merges did.

        Workers lock residents and rows as they meet them; when two of them wait on each other,
        PostgreSQL rolls one back (deadlock detected) and that one tries again."""
        keyring = process_keyring()
        rows = [(c.event["id"], department_of(c.event), c.event["subject"], c.event["type"],
                 c.event["data"]["parsed"].get("occurred"),
                 "\\x" + ids.seal_bytes(keyring, c.raw or canonical_json(c.event)).hex(),
                 c.topic, c.partition, c.offset)
                for c in batch]

        def land_and_merge(cur: Any) -> tuple[Counter, MergeSummary]:
            if not rows:  # nothing to land: only the waiting rechecks run
                return Counter(), MergeSummary()
            new_ids = land_events(cur, rows)
            new = [c.event for c in batch if c.event["id"] in new_ids]
            new = list({e["id"]: e for e in new}.values())
            summary = merge_events(cur, new, self._current(cur))
            return Counter(department_of(e) for e in new), summary

        stored, summary = self._transaction(land_and_merge)
        self._recheck(summary)
        return stored, summary

    def relink_batch(self) -> int | None:
        """Link a batch of the records a switch of parameters queued again (streams/relink.py),
        then run the rechecks it leaves; how many records, None when none waits."""
        done = self._transaction(relink_some)
        if done is None:
            return None
        records, summary = done
        self._recheck(summary)
        return records

    def reestimate(self, min_records: int, events_before: int | None, backlog: bool = False
                   ) -> tuple[StoreSize, Reestimated | None]:
        """Re-estimate the matching parameters when the store's growth calls for it
        (streams/reestimate.py)."""
        return self._transaction(
            lambda cur: reestimate_if_due(cur, min_records, events_before, backlog))

    def relink_owed(self) -> bool:
        """Whether linking every record again is owed (streams/parameter_store.py)."""
        return self._transaction(relink_owed)

    def _current(self, cur: Any) -> Parameters:
        """The parameters to merge with, read under the merge lock (parameter_store)."""
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
        self._parameters = current_parameters(cur, self._parameters)
        return self._parameters.parameters

    def _recheck(self, summary: MergeSummary) -> None:
        """Run every waiting recheck (any worker's), each in a transaction of its own."""
        while (checked := self._transaction(
                lambda cur: recheck(cur, self._current(cur), summary.lookups))) is not None:
            summary.add(checked)

    def _transaction(self, work: Callable[[Any], T]) -> T:
        """`work(cursor)` in a transaction, again after a deadlock; a lost connection is closed
        and raised as OperationalError (the caller retries later)."""
        attempt = 1
        while True:
            conn = self._connection()
            try:
                with conn, conn.cursor() as cur:
                    return work(cur)
            except psycopg2.errors.DeadlockDetected:
                if attempt == DEADLOCK_ATTEMPTS:
                    raise
                BATCH_RETRIES.labels("deadlock").inc()
                log.info("transaction rolled back in a deadlock with another worker; again (%d)",
                         attempt)
                attempt += 1
            except DATABASE_GONE as error:
                conn.close()
                raise psycopg2.OperationalError(str(error)) from error

    def pending_changes(self, limit: int = 1000) -> list[OutboxEntry]:
        """Change-feed entries not yet relayed to Kafka, oldest first."""
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT seq, resident_id, change, payload, created_at"
                        " FROM hub.change_outbox WHERE sent_at IS NULL ORDER BY seq LIMIT %s",
                        (limit,))
            return [OutboxEntry(*row) for row in cur.fetchall()]

    def take_relay(self) -> bool:
        """Whether this store's connection now holds the change feed's relay, which one worker
        holds at a time (two at once sent most entries twice); until `leave_relay` or the
        connection closes."""
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (CHANGE_RELAY_LOCK,))
            return cur.fetchone()[0]

    def leave_relay(self) -> None:
        """Give the relay up (nothing to give up when the connection it was held on is gone)."""
        if self._conn is not None and not self._conn.closed:
            with self._conn, self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (CHANGE_RELAY_LOCK,))

    def mark_sent(self, seqs: Sequence[int]) -> None:
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute("UPDATE hub.change_outbox SET sent_at = now() WHERE seq = ANY(%s)",
                        (list(seqs),))

    def gauges(self) -> dict[str, Any]:
        """The store's state for the operators' gauges."""
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM hub.conflicts WHERE status = 'open'),"
                        " (SELECT count(*) FROM hub.review_queue WHERE status = 'open'),"
                        " (SELECT count(*) FROM hub.residents)")
            conflicts, review, residents = cur.fetchone()
            cur.execute("SELECT kind, count(*) FROM hub.findings GROUP BY kind")
            findings = dict(cur.fetchall())
            cur.execute("SELECT department, count(*), count(*) FILTER (WHERE due_at < now())"
                        " FROM hub.verification_tasks WHERE status = 'open' GROUP BY 1")
            return {"conflicts": conflicts, "review": review, "residents": residents,
                    "findings": findings,
                    "tasks": {d: (n, overdue) for d, n, overdue in cur.fetchall()}}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
