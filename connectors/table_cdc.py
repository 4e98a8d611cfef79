"""A department's live table, streamed by logical replication (`pgoutput`), at least once.

For a declaration whose live path is `logical_replication`: its table's inserted and updated
rows, each as a record keyed by the export's headers (the fields' `db_column`s). Why logical
replication: rows corrected in place are seen as they change, nothing is polled, and the
department's server needs no extension. Why at least once: the replication slot on that server
is the durable progress. The caller confirms an LSN only after Kafka acknowledged every event
yielded up to it; a crash before that re-delivers those rows on restart, and since an event's id
hashes its raw values, a re-delivered row changes nothing downstream. Reconnecting is the
caller's job: every error is raised as is.
"""

from __future__ import annotations

import logging
import re
import select
import time
from collections import deque
from collections.abc import Iterator
from types import TracebackType

import psycopg2
from psycopg2 import errors, sql
from psycopg2.extras import LogicalReplicationConnection

from connectors import pgoutput
from connectors.records import SourceRecord
from deploy.errors import StoreError
from deploy.postgres import connect, location
from schemas.declarations import Department
from schemas.events import canonical_json

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # what a slot name may be; publications alike
log = logging.getLogger(__name__)


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r}: use lower-case letters, digits and _ (at most 63)")
    return name


def ensure_replication(dsn: str, table: str, slot: str, publication: str) -> None:
    """Create the publication FOR TABLE `table`, then the pgoutput slot, unless they exist.

    The publication comes first: the slot decodes with the catalog as of each change, so a
    publication created after the slot would be missing for changes made in between. The role
    needs REPLICATION and must own the table (or be superuser) to publish it.
    """
    conn = connect(dsn)  # Unreachable or StoreError, naming the server
    conn.autocommit = True  # a slot cannot be created in a transaction that has written
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (_checked(publication),))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                        sql.Identifier(publication), sql.Identifier(table)))
                except errors.DuplicateObject:
                    pass  # created concurrently
            cur.execute("SELECT plugin FROM pg_replication_slots WHERE slot_name = %s",
                        (_checked(slot),))
            row = cur.fetchone()
            if row is None:
                try:
                    cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')",
                                (slot,))
                except errors.DuplicateObject:
                    pass
            elif row[0] != "pgoutput":
                raise StoreError(f"slot {slot!r} exists with plugin {row[0]!r}, not pgoutput")
    except psycopg2.Error as error:  # e.g. the role may not publish the table
        raise StoreError(f"{location(dsn)}: {' '.join(str(error).split())}") from None
    finally:
        conn.close()


def drop_slot(dsn: str, slot: str) -> None:
    """Drop the slot if it exists: an abandoned slot makes the server keep WAL forever."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = %s", (slot,))
    finally:
        conn.close()


def _record(department: Department, values: tuple[pgoutput.Value, ...], names: list[str],
            change_lsn: int, position: int) -> SourceRecord:
    row = dict(zip(names, values, strict=True))
    unchanged = sorted(name for name, value in row.items() if value is pgoutput.UNCHANGED)
    known = {name: value for name, value in row.items() if name not in unchanged}
    updated = department.live.updated or ""
    origin = {"table": department.live.table, "lsn": pgoutput.lsn_text(change_lsn),
              updated: row.get(updated)}
    if unchanged:  # a TOASTed value the server did not resend: the row is incomplete
        return SourceRecord(origin, canonical_json(known), reason="unchanged_toast",
                            error=f"values not sent: {', '.join(unchanged)}", position=position)
    columns = {f.column: row.get(f.db_column) for f in department.fields
               if f.column is not None and f.db_column is not None}
    return SourceRecord(origin, canonical_json(row), columns=columns, position=position)


class TableChangeStream:
    """Inserted and updated rows of a department's live table from a pgoutput slot, in commit
    order.

    Each row comes as `(SourceRecord, lsn)`; `lsn` (also `record.position`) is what to pass to
    `confirm` once Kafka holds that row and all before it. A transaction's last row carries the
    transaction's end LSN, its other rows the end of the transaction before, so confirming a row
    in the middle of a transaction re-delivers the whole transaction after a restart, never less.
    State lives on the object: breaking out of `changes()` loses nothing, the next call goes on.
    """

    def __init__(self, dsn: str, department: Department, slot: str, publication: str) -> None:
        self._department = department
        # UTC so that update times read the same whatever the server's time zone
        self._conn = psycopg2.connect(dsn, connection_factory=LogicalReplicationConnection,
                                      client_encoding="UTF8", options="-c TimeZone=UTC")
        self._cur = self._conn.cursor()
        self._cur.start_replication(slot_name=_checked(slot), decode=False, options={
            "proto_version": "1", "publication_names": _checked(publication)})
        self._relations: dict[int, pgoutput.Relation] = {}
        self._open: list[tuple[list[str], tuple[pgoutput.Value, ...], int]] = []
        self._ready: deque[tuple[SourceRecord, int]] = deque()
        self._committed = 0  # end LSN of the last transaction read to its commit
        self._handed_out = 0  # LSN of the last row yielded

    def changes(self, idle_timeout: float = 1.0) -> Iterator[tuple[SourceRecord, int]]:
        """Yield rows as their transactions commit; return after `idle_timeout` quiet seconds.

        The iterator ends once the server has sent no data for `idle_timeout` seconds (server
        keepalives do not count), so a loop over it regains control to flush and `confirm`, then
        calls `changes()` again. Under constant traffic it never goes quiet: break out of the
        loop whenever a batch is big enough; undelivered rows wait for the next call.
        """
        deadline = time.monotonic() + idle_timeout
        while True:
            while self._ready:
                record, lsn = self._ready.popleft()
                self._handed_out = lsn
                yield record, lsn
            message = self._cur.read_message()  # also answers keepalives, sends status
            if message is not None:
                self._handle(pgoutput.decode(message.payload), message.data_start)
                deadline = time.monotonic() + idle_timeout
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            select.select([self._cur], [], [], min(remaining, 1.0))

    def _handle(self, message: pgoutput.Message, data_start: int) -> None:
        if isinstance(message, pgoutput.Relation):
            self._relations[message.relation_id] = message
        elif isinstance(message, pgoutput.Begin):
            self._open.clear()
        elif isinstance(message, pgoutput.Insert | pgoutput.Update):
            relation = self._relations[message.relation_id]
            if relation.name == self._department.live.table:
                self._open.append(([c.name for c in relation.columns], message.new, data_start))
        elif isinstance(message, pgoutput.Delete):
            relation = self._relations[message.relation_id]
            old = dict(zip((c.name for c in relation.columns), message.old, strict=False))
            # only the record id: with REPLICA IDENTITY FULL the old row holds personal data
            key = self._department.spec("record_id").db_column or ""
            log.info("ignoring a delete from %s: %s=%s", relation.name, key, old.get(key))
        elif isinstance(message, pgoutput.Truncate):
            log.warning("ignoring a truncate of relations %s", message.relation_ids)
        elif isinstance(message, pgoutput.Commit):
            for i, (names, values, change_lsn) in enumerate(self._open):
                lsn = message.end_lsn if i == len(self._open) - 1 else self._committed
                self._ready.append((_record(self._department, values, names, change_lsn, lsn),
                                    lsn))
            self._open.clear()
            self._committed = message.end_lsn

    def confirm(self, lsn: int) -> None:
        """Tell the server it may discard WAL up to `lsn`: call only after Kafka acknowledged.

        When `lsn` covers every row handed out so far, progress also moves past the deletes and
        other tables' transactions read since, so a table that only sees deletes holds no WAL.
        """
        if lsn >= self._handed_out and not self._ready:
            lsn = max(lsn, self._committed)
        self._cur.send_feedback(flush_lsn=lsn, force=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TableChangeStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

