"""Store canonical events in PostgreSQL once each, by event id (the provisional landing table)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2.extras import execute_values


@dataclass(frozen=True)
class ConsumedEvent:
    """A canonical event with the Kafka position it was read from."""

    event: dict[str, Any]
    topic: str
    partition: int
    offset: int


def department_of(event: dict[str, Any]) -> str:
    """`/departments/police` -> `police`."""
    return event["source"].rsplit("/", 1)[-1]


class LandingStore:
    """One connection; each batch is one transaction, so a crash stores all of it or none."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: Any = None

    def store(self, batch: Sequence[ConsumedEvent]) -> dict[str, int]:
        """Insert the batch, skipping event ids already stored; returns new rows by department."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self._dsn)
        rows = [(c.event["id"], department_of(c.event), c.event["subject"], c.event["type"],
                 c.event["data"]["parsed"].get("occurred"),
                 json.dumps(c.event, ensure_ascii=False), c.topic, c.partition, c.offset)
                for c in batch]
        try:
            with self._conn, self._conn.cursor() as cur:
                inserted = execute_values(
                    cur,
                    "INSERT INTO hub.events (event_id, source, record_id, event_type, occurred_at,"
                    " payload, topic, kafka_partition, kafka_offset) VALUES %s"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING source",
                    rows, fetch=True)
            return dict(Counter(source for (source,) in inserted))
        except psycopg2.OperationalError:
            self._conn.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
