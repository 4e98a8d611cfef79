"""`sanwang connect police --db DSN`: the police table's changes, live, via logical replication.

The replication slot is the durable progress: an LSN is confirmed to the police server only
after the broker acknowledged every event up to it, so a kill -9 re-delivers (harmlessly,
deterministic ids) instead of losing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import psycopg2

from connectors import police
from connectors.backfill import publish_record
from connectors.metrics import LIVE_LAG_SECONDS
from connectors.police_cdc import PoliceChangeStream, ensure_replication
from connectors.publisher import EventPublisher
from deploy.settings import HubSettings

log = logging.getLogger(__name__)
BATCH = 1000  # rows published between two confirms under constant traffic
SLOT = "sanwang_police"
PUBLICATION = "sanwang_police"


def stream_police_changes(settings: HubSettings, dsn: str, stop: threading.Event,
                          slot: str = SLOT, publication: str = PUBLICATION) -> None:
    """Publish inserted and corrected rows until `stop` is set; reconnect when the link drops."""
    ensure_replication(dsn, slot, publication)
    publisher = EventPublisher(settings, police.DEPARTMENT)
    try:
        while not stop.is_set():
            try:
                with PoliceChangeStream(dsn, slot, publication) as stream:
                    _pump(stream, publisher, stop)
            except psycopg2.OperationalError as error:  # server restart, slot still held
                log.warning("police database connection lost (%s); reconnecting", error)
                time.sleep(1.0)
    finally:
        publisher.close()


def _pump(stream: PoliceChangeStream, publisher: EventPublisher, stop: threading.Event) -> None:
    while not stop.is_set():
        last_lsn, count = None, 0
        for record, lsn in stream.changes(idle_timeout=0.2):
            publish_record(record, police.police_event, publisher)
            last_lsn, count = lsn, count + 1
            _observe_lag(record.origin.get("gxsj"))
            if count >= BATCH:
                break
        if last_lsn is not None:
            publisher.flush()
            stream.confirm(last_lsn)


def _observe_lag(gxsj: str | None) -> None:
    """Seconds from the row's last update in the police system to its publication."""
    if not gxsj:
        return
    try:
        updated = datetime.fromisoformat(gxsj)
    except ValueError:
        return
    if updated.tzinfo is not None:
        LIVE_LAG_SECONDS.labels(police.DEPARTMENT).set(time.time() - updated.timestamp())
