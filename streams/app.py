"""The faust-streaming processor: consume every department's raw topic, store each event once.

Delivery is at-least-once: a batch is written to PostgreSQL in one transaction before its offsets
are acknowledged, and the write skips event ids already stored, so a redelivered batch changes
nothing. faust's exactly_once mode is not used (open bugs: faust-streaming #177, #323, #517).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust
import psycopg2
from kafka.errors import KafkaError

from connectors.partitioner import compiled_murmur2
from deploy import stopping
from deploy.errors import EXIT_CRASH, HubError, Unreachable
from deploy.kafka_auth import PROCESSOR, faust_credentials
from deploy.kafka_check import authenticate
from deploy.postgres import dsn
from deploy.reachability import mark_reachable
from deploy.settings import HubSettings
from schemas.departments import department as declared
from schemas.events import KAFKA_HEADERS, canonical_json
from schemas.hub_events import PROCESSOR_SOURCE, DeadLetter, change_event, dead_letter_event
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    processor_group,
    raw_topics,
)
from streams.features import department_of
from streams.findings import KINDS as FINDING_KINDS
from streams.indicator_store import keep_indicators_current
from streams.lag import LagProbe
from streams.landing import DATABASE_GONE, ConsumedEvent, HubStore
from streams.merge_summary import MergeSummary
from streams.metrics import (
    BATCH_CPU_SECONDS,
    BATCH_SECONDS,
    CONSUMER_LAG,
    DEAD_LETTERED,
    EVENTS_CONSUMED,
    EVENTS_PRODUCED,
    EVENTS_STORED,
    FINDINGS,
    LATENCY,
    MATCH_OUTCOMES,
    OPEN_CONFLICTS,
    OPEN_TASKS,
    OVERDUE_TASKS,
    RECHECKS,
    RESIDENT_CHANGES,
    RESIDENTS,
    REVIEW_QUEUE,
)
from streams.reestimate import Reestimated
from streams.relink import may_relink
from streams.survivorship import owners

log = logging.getLogger(__name__)
# The most a batch waits for more events. Batches size themselves: while one is merged the
# consumer keeps fetching, so behind a backlog the next is full (processor_batch_size) at
# once, and in live traffic a batch holds what came within this wait. A change sent at 50/s
# took 0.38 to 0.40 s (median) to be merged at 0.5 s, 0.16 to 0.17 s at 0.15 s. At 0.05 s it
# took 0.10 to 0.11 s, but each batch's fixed cost then left PostgreSQL 2.2 to 2.7 times the
# work per change at 50/s, and the queue at 500/s longer (bench/README.md, "2026-12-07").
BATCH_WITHIN_SECONDS = 0.15
CHANGE_RELAY_SECONDS = 0.5
GAUGE_SECONDS = 10.0
RELINK_SECONDS = 1.0


def processor_app(settings: HubSettings) -> tuple[faust.App, faust.TopicT]:
    """faust's app as the processor runs it, and the raw topics it reads: one consumer group
    however many workers run (bench/floor_worker.py runs it without the store step)."""
    app = faust.App(
        processor_group(settings.topic_prefix),
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=faust_credentials(settings, PROCESSOR),
        store="memory://",
        datadir=str(settings.home.resolve() / "processor"),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_linger=0.02,
        producer_partitioner=compiled_murmur2,
    )
    raw = app.topic(*raw_topics(settings.topic_prefix), value_serializer="raw",
                    key_serializer="raw", partitions=settings.topic_partitions)
    return app, raw


def create_app(settings: HubSettings) -> faust.App:
    """The processor app for these settings, its agent, timers and change feed."""
    app, raw = processor_app(settings)
    dead_letters = app.topic(dead_letter_topic(settings.topic_prefix), value_serializer="raw",
                             key_serializer="raw")
    feeds = {name: app.topic(topic, value_serializer="raw", key_serializer="raw",
                             partitions=settings.topic_partitions)
             for name, topic in (("changes", changes_topic(settings.topic_prefix)),
                                 ("findings", findings_topic(settings.topic_prefix)))}
    store = HubStore(dsn(settings, "sanwang_processor"))

    relay_store = HubStore(dsn(settings, "sanwang_processor"))  # each timer: own connection
    gauge_store = HubStore(dsn(settings, "sanwang_processor"))

    @app.timer(interval=CHANGE_RELAY_SECONDS)
    async def relay_changes() -> None:
        try:
            await _relay_changes(relay_store, feeds)
        except DATABASE_GONE as error:
            relay_store.close()  # reconnects on the next tick
            log.warning("change feed relay waits for PostgreSQL: %s", error)

    behind: list[int | None] = [None]  # the group's lag as the gauges last saw it

    @app.timer(interval=GAUGE_SECONDS)
    async def refresh_gauges() -> None:
        """Lag per partition and the store's queues, for the operators' dashboards; and whether
        Kafka still takes the processor's principal (a broker that no longer does is not
        retried: faust would try forever)."""
        try:
            await authenticate(settings, PROCESSOR)
        except Unreachable as error:
            log.warning("gauges not refreshed: %s", error)
            return
        except HubError as error:
            _fail(error)
        try:
            state = await asyncio.to_thread(gauge_store.gauges)
            mark_reachable("postgresql", True)
            lag = await asyncio.to_thread(_lag, settings)
            behind[0] = sum(lag.values())
        except (psycopg2.Error, KafkaError) as error:
            if isinstance(error, DATABASE_GONE):
                mark_reachable("postgresql", False)
            gauge_store.close()
            log.warning("gauges not refreshed: %s", error)
            return
        OPEN_CONFLICTS.set(state["conflicts"])
        REVIEW_QUEUE.set(state["review"])
        RESIDENTS.set(state["residents"])
        for kind in FINDING_KINDS:
            FINDINGS.labels(kind).set(state["findings"].get(kind, 0))
        for owner in sorted(set(owners().values())):
            open_tasks, overdue = state["tasks"].get(owner, (0, 0))
            OPEN_TASKS.labels(owner).set(open_tasks)
            OVERDUE_TASKS.labels(owner).set(overdue)
        for tp, waiting in lag.items():
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(waiting)

    if settings.indicator_refresh_seconds:
        @app.timer(interval=settings.indicator_refresh_seconds)
        async def keep_indicators() -> None:
            """hub.indicators kept current as the store changes (one worker at a time)."""
            try:
                done = await asyncio.to_thread(
                    keep_indicators_current, dsn(settings, "sanwang_processor"),
                    settings.indicator_months, settings.small_cell_k)
            except psycopg2.Error as error:
                log.warning("indicators not refreshed: %s", error)
                return
            if done is not None:
                log.info("indicators of %s..%s refreshed from %d residents", done.first_month,
                         done.last_month, done.residents)

    if settings.reestimate_seconds:
        parameter_store = HubStore(dsn(settings, "sanwang_processor"))
        events_seen: list[int | None] = [None]  # at the previous look

        @app.timer(interval=settings.reestimate_seconds)
        async def keep_parameters() -> None:
            """The matching parameters re-estimated as the store grows (streams/reestimate.py),
            one worker at a time."""
            backlog = not may_relink(behind[0], settings.processor_batch_size)
            try:
                size, done = await asyncio.to_thread(
                    parameter_store.reestimate, settings.reestimate_min_records, events_seen[0],
                    backlog)
            except psycopg2.Error as error:
                parameter_store.close()
                log.warning("matching parameters not re-estimated: %s", error)
                return
            events_seen[0] = size.events
            if done is not None:
                _log_reestimated(done)

    relink_store = HubStore(dsn(settings, "sanwang_processor"))

    @app.timer(interval=RELINK_SECONDS)
    async def relink_records() -> None:
        """Records queued by a switch of parameters linked again, a batch per transaction (any
        worker, side by side) while no backlog waits (relink.may_relink); a stop waits for one
        batch at most."""
        try:
            if (settings.reestimate_seconds and behind[0] == 0
                    and await asyncio.to_thread(relink_store.relink_owed)):
                # the backlog an estimate was made in is merged (the group's lag seen at 0, so
                # the estimate reads every event and no quiet one follows): its relink is paid
                # now, not at the next look up to reestimate_seconds later (streams/reestimate.py)
                _, done = await asyncio.to_thread(
                    relink_store.reestimate, settings.reestimate_min_records, None)
                if done is not None:
                    _log_reestimated(done)
            while (may_relink(behind[0], settings.processor_batch_size)
                   and await asyncio.to_thread(relink_store.relink_batch) is not None):
                pass
        except psycopg2.Error as error:
            relink_store.close()
            log.warning("records not linked again yet: %s", error)

    @app.agent(raw)
    async def land_events(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.processor_batch_size,
                                               within=BATCH_WITHIN_SECONDS):
            try:
                batch = []
                for event in events:
                    consumed = await _decode(event, dead_letters)
                    if consumed is not None:
                        batch.append(consumed)
                if batch:
                    await _store_until_done(store, batch)
            except asyncio.CancelledError:
                # faust acknowledges a cancelled batch's events on its way out (take_events'
                # `finally`): leave before it can, so the unstored batch is delivered again
                log.warning("stopped in the middle of a batch; it will be processed again")
                _exit_now()
            except Exception:
                log.exception("processor failed on a batch; stopping before it is acknowledged")
                _exit_now()

    return app


def _log_reestimated(done: Reestimated) -> None:
    log.info("matching parameters re-estimated from a sample of %d of %d records; %s",
             done.sampled, done.records,
             "linking them again owed until the backlog is merged" if done.owed
             else f"{done.queued} queued to be linked again")


def _exit_now() -> None:
    """Stop the process at once: no offset of the current batch may be committed."""
    if stopping.requested.is_set():
        stopping.exit_stopped()
    logging.shutdown()
    os._exit(EXIT_CRASH)


def _fail(error: HubError) -> NoReturn:
    """End the process on an error retrying cannot cure, with its one line and exit status."""
    log.error("%s", error)
    logging.shutdown()
    os._exit(error.exit_code)


def parse_event(raw: bytes) -> dict[str, Any]:
    """A message's canonical event; ValueError naming what is wrong otherwise.

    Numbers must be finite: PostgreSQL's jsonb has no NaN or infinity, so such an event could
    never be stored (the batch would fail again on every retry)."""
    value = json.loads(raw, parse_float=_finite, parse_constant=_not_a_number)
    if not isinstance(value, dict) or not {"id", "source", "subject", "data"} <= value.keys():
        raise ValueError("not a canonical event (id, source, subject, data required)")
    return value


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range (jsonb holds finite numbers only)")
    return number


def _not_a_number(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON number")


async def _decode(event: Any, dead_letters: faust.TopicT) -> ConsumedEvent | None:
    """The canonical event in a message, or None after dead-lettering a message that is not one."""
    message = event.message
    EVENTS_CONSUMED.labels(message.topic).inc()
    try:
        value = parse_event(message.value or b"")  # a null value (tombstone) is refused too
    except ValueError as error:
        origin = {"topic": message.topic, "partition": message.partition,
                  "offset": message.offset}
        letter = DeadLetter(PROCESSOR_SOURCE, message.topic.rpartition(".raw.")[2],
                            "not_canonical", str(error), origin, message.value or b"")
        await dead_letters.send(key=b"processor", headers=KAFKA_HEADERS, value=canonical_json(
            dead_letter_event(letter, datetime.now(UTC))))
        DEAD_LETTERED.labels("not_canonical").inc()
        EVENTS_PRODUCED.labels(dead_letters.get_topic_name()).inc()
        return None
    published = message.timestamp or None  # faust gives the Kafka timestamp in seconds
    return ConsumedEvent(value, message.topic, message.partition, message.offset, published,
                         message.value)


async def _store_until_done(store: HubStore, batch: list[ConsumedEvent]) -> None:
    """Land and merge the batch; while PostgreSQL is unreachable, wait and retry (never skip)."""
    delay = 0.5
    while True:
        started = time.monotonic()
        try:
            stored, merged, cpu = await asyncio.to_thread(_apply_timed, store, batch)
        except DATABASE_GONE as error:
            mark_reachable("postgresql", False)
            log.warning("PostgreSQL unavailable (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        mark_reachable("postgresql", True)
        for department, count in stored.items():
            EVENTS_STORED.labels(department).inc(count)
        for rule, count in merged.rules.items():
            MATCH_OUTCOMES.labels(rule).inc(count)
        for change, count in merged.changes.items():
            RESIDENT_CHANGES.labels(change).inc(count)
        for outcome, count in merged.rechecks.items():
            RECHECKS.labels(outcome).inc(count)
        BATCH_SECONDS.observe(time.monotonic() - started)
        BATCH_CPU_SECONDS.observe(cpu)
        _observe_latency(batch)
        return


def _apply_timed(store: HubStore, batch: list[ConsumedEvent]
                 ) -> tuple[Counter, MergeSummary, float]:
    """`store.apply` and the CPU its thread spent on it: against the batch's wall time, what
    it waited (a ten-second statement once hid in that difference, bench/README.md)."""
    started = time.thread_time()
    stored, merged = store.apply(batch)
    return stored, merged, time.thread_time() - started


def _observe_latency(batch: list[ConsumedEvent]) -> None:
    """Publication to merged, for every event; the department's change to merged where the
    source says when the change happened (a live table's update column)."""
    now = time.time()
    for consumed in batch:
        if consumed.published_at:
            LATENCY.labels("published_to_stored").observe(max(now - consumed.published_at, 0))
        updated = declared(department_of(consumed.event)).live.updated
        changed = updated and (consumed.event["data"].get("origin") or {}).get(updated)
        if changed:
            try:
                moment = datetime.fromisoformat(changed).timestamp()
            except ValueError:
                continue
            LATENCY.labels("changed_to_stored").observe(max(now - moment, 0))


async def _relay_changes(store: HubStore, feeds: dict[str, faust.TopicT]) -> None:
    """Publish the outbox's new entries (findings to their own topic), then mark them sent
    (at least once: a crash in between sends them again, with the same ids, so subscribers
    deduplicate; departments re-read the resident's current state anyway).

    One worker relays at a time: with every worker relaying whatever was not yet marked sent,
    two workers published 1.66 messages per entry (bench/change_feed_count.py)."""
    if not await asyncio.to_thread(store.take_relay):
        return
    try:
        while pending := await asyncio.to_thread(store.pending_changes):
            acks = []
            for entry in pending:
                feed = feeds["findings" if entry.change == "finding" else "changes"]
                acks.append(await feed.send(key=entry.resident_id.encode(),
                                            headers=KAFKA_HEADERS,
                                            value=canonical_json(change_event(entry))))
                EVENTS_PRODUCED.labels(feed.get_topic_name()).inc()
            await asyncio.gather(*acks)
            await asyncio.to_thread(store.mark_sent, [entry.seq for entry in pending])
    finally:
        await asyncio.to_thread(store.leave_relay)


def _lag(settings: HubSettings) -> dict[Any, int]:
    probe = LagProbe(settings)
    try:
        return probe.lag()
    finally:
        probe.close()
