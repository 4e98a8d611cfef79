"""The faust-streaming processor: consume every department's raw topic, store each event once.

Delivery is at-least-once: a batch is written to PostgreSQL in one transaction before its offsets
are acknowledged, and the write skips event ids already stored, so a redelivered batch changes
nothing. faust's exactly_once mode is not used (open bugs: faust-streaming #177, #323, #517).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import faust
import psycopg2

from deploy.postgres import dsn
from deploy.settings import HubSettings
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    processor_group,
    raw_topics,
)
from streams.landing import ConsumedEvent, HubStore
from streams.metrics import EVENTS_CONSUMED, EVENTS_STORED, MATCH_OUTCOMES, RESIDENT_CHANGES

log = logging.getLogger(__name__)
BATCH_SIZE = 500
BATCH_WITHIN_SECONDS = 0.5
CHANGE_RELAY_SECONDS = 0.5
EXIT_CRASH = 70  # an unexpected error stops the worker before any offset moves past the batch


def create_app(settings: HubSettings) -> faust.App:
    """The processor app for these settings: one consumer group however many workers run."""
    app = faust.App(
        processor_group(settings.topic_prefix),
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        datadir=str(settings.home.resolve() / "processor"),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
    )
    raw = app.topic(*raw_topics(settings.topic_prefix), value_serializer="raw",
                    key_serializer="raw", partitions=settings.topic_partitions)
    dead_letters = app.topic(dead_letter_topic(settings.topic_prefix), value_serializer="raw",
                             key_serializer="raw")
    feeds = {name: app.topic(topic, value_serializer="raw", key_serializer="raw",
                             partitions=settings.topic_partitions)
             for name, topic in (("changes", changes_topic(settings.topic_prefix)),
                                 ("findings", findings_topic(settings.topic_prefix)))}
    store = HubStore(dsn(settings, "sanwang_processor"))

    relay_store = HubStore(dsn(settings, "sanwang_processor"))  # its own connection

    @app.timer(interval=CHANGE_RELAY_SECONDS)
    async def relay_changes() -> None:
        try:
            await _relay_changes(relay_store, feeds)
        except psycopg2.OperationalError as error:
            log.warning("change feed relay waits for PostgreSQL: %s", error)

    @app.agent(raw)
    async def land_events(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_SECONDS):
            try:
                batch = []
                for event in events:
                    consumed = await _decode(event, dead_letters)
                    if consumed is not None:
                        batch.append(consumed)
                if batch:
                    await _store_until_done(store, batch)
            except Exception:
                log.exception("processor failed on a batch; stopping before it is acknowledged")
                logging.shutdown()
                os._exit(EXIT_CRASH)

    return app


async def _decode(event: Any, dead_letters: faust.TopicT) -> ConsumedEvent | None:
    """The canonical event in a message, or None after dead-lettering a message that is not one."""
    message = event.message
    EVENTS_CONSUMED.labels(message.topic).inc()
    try:
        value = json.loads(message.value)
        if not isinstance(value, dict) or not {"id", "source", "subject", "data"} <= value.keys():
            raise ValueError("not a canonical event (id, source, subject, data required)")
    except ValueError as error:
        letter = {"reason": "not_canonical", "error": str(error), "origin": {
            "topic": message.topic, "partition": message.partition, "offset": message.offset},
            "raw": message.value.decode("utf-8", "replace")}
        await dead_letters.send(key=b"processor", value=json.dumps(letter).encode())
        return None
    return ConsumedEvent(value, message.topic, message.partition, message.offset)


async def _store_until_done(store: HubStore, batch: list[ConsumedEvent]) -> None:
    """Land and merge the batch; while PostgreSQL is unreachable, wait and retry (never skip)."""
    delay = 0.5
    while True:
        try:
            stored, merged = await asyncio.to_thread(store.apply, batch)
        except psycopg2.OperationalError as error:
            log.warning("PostgreSQL unavailable (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        for department, count in stored.items():
            EVENTS_STORED.labels(department).inc(count)
        for rule, count in merged.rules.items():
            MATCH_OUTCOMES.labels(rule).inc(count)
        for change, count in merged.changes.items():
            RESIDENT_CHANGES.labels(change).inc(count)
        return


async def _relay_changes(store: HubStore, feeds: dict[str, faust.TopicT]) -> None:
    """Publish the outbox's new entries (findings to their own topic), then mark them sent
    (at least once: a crash in between sends them again; departments re-read the resident's
    current state anyway)."""
    while pending := await asyncio.to_thread(store.pending_changes):
        acks = []
        for _seq, resident, change, payload in pending:
            message = {"resident_id": resident, "change": change, **payload}
            feed = feeds["findings" if change == "finding" else "changes"]
            acks.append(await feed.send(key=resident.encode(), value=json.dumps(
                message, ensure_ascii=False).encode()))
        await asyncio.gather(*acks)
        await asyncio.to_thread(store.mark_sent, [seq for seq, *_ in pending])


def run_worker(settings: HubSettings, metrics_port: int, loglevel: str = "info") -> None:
    """Run one worker until stopped (SIGTERM / Ctrl-C); more workers may join the same group."""
    from prometheus_client import start_http_server

    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
