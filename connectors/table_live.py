"""`sanwang connect DEPARTMENT --db DSN`: a department's live table, streamed by logical
replication, for a declaration whose live path is `logical_replication`.

The replication slot is the durable progress: an LSN is confirmed to the department's server only
after the broker acknowledged every event up to it, so a kill -9 re-delivers (harmlessly,
deterministic ids) instead of losing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from functools import partial

import psycopg2

from connectors.backfill import publish_record
from connectors.mapping import to_event
from connectors.metrics import LIVE_LAG_SECONDS
from connectors.publisher import EventPublisher
from connectors.table_cdc import TableChangeStream, ensure_replication
from deploy.settings import HubSettings
from schemas.declarations import Department

log = logging.getLogger(__name__)
BATCH = 1000  # rows published between two confirms under constant traffic


def replication_name(department: Department) -> str:
    """The slot's and the publication's name on the department's server."""
    return f"sanwang_{department.id}"


def stream_table_changes(settings: HubSettings, department: Department, dsn: str,
                         stop: threading.Event, slot: str | None = None,
                         publication: str | None = None) -> None:
    """Publish inserted and corrected rows until `stop` is set; reconnect when the link drops."""
    slot = slot or replication_name(department)
    publication = publication or replication_name(department)
    ensure_replication(dsn, department.live.table or "", slot, publication)
    publisher = EventPublisher(settings, department.id)
    try:
        while not stop.is_set():
            try:
                with TableChangeStream(dsn, department, slot, publication) as stream:
                    _pump(stream, department, publisher, stop)
            except psycopg2.OperationalError as error:  # server restart, slot still held
                log.warning("%s database connection lost (%s); reconnecting", department.id,
                            error)
                time.sleep(1.0)
    finally:
        publisher.close()


def _pump(stream: TableChangeStream, department: Department, publisher: EventPublisher,
          stop: threading.Event) -> None:
    mapping = partial(to_event, department)
    while not stop.is_set():
        last_lsn, count = None, 0
        for record, lsn in stream.changes(idle_timeout=0.2):
            publish_record(record, mapping, publisher)
            last_lsn, count = lsn, count + 1
            _observe_lag(department, record.origin.get(department.live.updated or ""))
            if count >= BATCH:
                break
        if last_lsn is not None:
            publisher.flush()
            stream.confirm(last_lsn)


def _observe_lag(department: Department, update_time: str | None) -> None:
    """Seconds from the row's last update in the department's system to its publication."""
    if not update_time:
        return
    try:
        updated = datetime.fromisoformat(update_time)
    except ValueError:
        return
    if updated.tzinfo is not None:
        LIVE_LAG_SECONDS.labels(department.id).set(time.time() - updated.timestamp())
