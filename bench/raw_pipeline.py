"""The raw pipeline: the same records through Kafka into PostgreSQL with no logic at all.

What the hub's end-to-end rate is compared with. A kafka-python producer with the hub
publisher's settings sends each record's raw line (keyed by a 32-byte counter, as long as the
hub's keys); one kafka-python consumer in a group reads them and COPYs each poll's records
(topic, partition, offset, bytes) into a logged PostgreSQL table, committing the database
transaction and then the offsets, as the hub's processor does. The clock runs from the
producer's creation to the commit that makes the last record stored.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import psycopg2
from harness import EXPORTS, raw_records
from kafka import KafkaConsumer, KafkaProducer

from deploy.kafka_auth import ADMIN, client_config
from deploy.postgres import dsn
from deploy.settings import HubSettings
from deploy.topics import ensure_topics

PREFIX = "rawbench"


def _copy_until(settings: HubSettings, consumer: KafkaConsumer, table: str, total: int,
                done: list[float]) -> None:
    """COPY every polled batch; append the time the `total`-th record was committed."""
    conn = psycopg2.connect(dsn(settings))
    stored = 0
    try:
        while stored < total:
            polled = consumer.poll(timeout_ms=500, max_records=2000)
            if not polled:
                continue
            buffer = io.StringIO()
            for messages in polled.values():
                for m in messages:
                    buffer.write(f"{m.topic}\t{m.partition}\t{m.offset}\t\\\\x{m.value.hex()}\n")
                    stored += 1
            buffer.seek(0)
            with conn.cursor() as cur:
                cur.copy_expert(f"COPY {table} FROM STDIN", buffer)
            conn.commit()
            consumer.commit()
        done.append(time.monotonic())
    finally:
        conn.close()
        consumer.close()


def raw_rate(settings: HubSettings, city: Path, run: int) -> tuple[int, float]:
    """(records, records/s) of the raw pipeline over the city's three exports; each `run`
    has topics, a consumer group and a table of its own."""
    group, table = f"{PREFIX}{run}", f"public.{PREFIX}{run}"
    topics = [f"{group}.{department}" for department, _ in EXPORTS]
    ensure_topics(settings, topics)  # the stack's partition count, as the hub's topics
    conn = psycopg2.connect(dsn(settings))
    with conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (topic text, kafka_partition integer, "
                    "kafka_offset bigint, line bytea)")
    conn.close()
    files = [(topic, city / name) for topic, (_, name) in zip(topics, EXPORTS, strict=True)]
    total = sum(1 for _, path in files for _ in raw_records(path))
    consumer = KafkaConsumer(*topics, **client_config(settings, ADMIN),  # no ACL names it
                             group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    while not consumer.assignment():  # joined the group before the clock starts
        consumer.poll(timeout_ms=200)
    done: list[float] = []
    copier = threading.Thread(target=_copy_until, args=(settings, consumer, table, total, done))
    failures: list[Exception] = []
    start = time.monotonic()
    copier.start()
    producer = KafkaProducer(**client_config(settings, ADMIN), acks="all",
                             enable_idempotence=True, linger_ms=20, batch_size=256 * 1024)
    lines = ((topic, line) for topic, path in files for line in raw_records(path))
    for n, (topic, line) in enumerate(lines):
        producer.send(topic, key=b"%032d" % n, value=line).add_errback(failures.append)
    producer.flush(timeout=120)
    producer.close(timeout=30)
    copier.join()
    if failures or not done:
        raise SystemExit(f"raw pipeline: {len(failures)} sends failed, first {failures[:1]!r}")
    return total, total / (done[0] - start)
