"""Workers merge side by side: two in one consumer group, or two store connections taking
interleaved batches at once, give the same store as one; merges that miss each other's
uncommitted records are merged again by their rechecks."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import psycopg2

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.settings import HubSettings
from schemas.topics import changes_topic, findings_topic
from streams.lag import wait_for_processor
from streams.landing import HubStore
from streams.merge import merge_events
from streams.parameter_store import load_parameters
from tests.integration.conftest import all_relayed, hub_settings, query
from tests.integration.kafka_topics import message_count
from tests.integration.store_runs import (
    apply,
    clean_snapshot,
    corrected,
    department,
    reset,
    sample_persons,
    snapshot,
)
from tests.integration.workers import spawn_worker, stop_worker
from tests.samples import SAMPLE, sample_events

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def _run(settings: HubSettings, workers: int) -> dict:
    for source, name in EXPORTS:
        backfill_file(settings, source, SAMPLE / name, progress=False)
    processes = [spawn_worker(settings, f"worker-{n}") for n in range(workers)]
    try:
        wait_for_processor(settings, timeout=300)
        all_relayed(settings)
        assert all(p.poll() is None for p in processes), "a worker died"
    finally:
        for process in processes:
            stop_worker(process)
    return snapshot(settings)


def test_two_workers_merge_like_one(stack: HubSettings) -> None:
    one = _run(hub_settings(stack), workers=1)
    settings = hub_settings(stack)
    two = _run(settings, workers=2)
    assert len(one["groups"]) == 401
    assert two == one
    # the change feed once each: every worker relaying sent most entries twice
    (changes, findings), = query(settings, "SELECT count(*) FILTER (WHERE change <> 'finding'),"
                                           " count(*) FILTER (WHERE change = 'finding')"
                                           " FROM hub.change_outbox")
    assert message_count(settings, changes_topic(settings.topic_prefix)) == changes > 0
    assert message_count(settings, findings_topic(settings.topic_prefix)) == findings


def test_one_store_holds_the_change_feed_relay_at_a_time(stack: HubSettings) -> None:
    settings = hub_settings(stack)
    first, second = (HubStore(postgres.dsn(settings, "sanwang_processor")) for _ in range(2))
    try:
        assert first.take_relay() and not second.take_relay()
        first.leave_relay()
        assert second.take_relay() and not first.take_relay()
        second.close()  # a worker gone: its connection's hold goes with it
        assert first.take_relay()
    finally:
        first.close()
        second.close()


def test_concurrent_merges_of_one_persons_records_give_the_clean_store(
        stack: HubSettings) -> None:
    """Two connections apply the sample's batches at the same moments, so that records of one
    person often meet in two open transactions (no global lock serializes them: blocking-key
    and resident locks must), over several shuffles."""
    settings = hub_settings(stack)
    events = list(sample_events())
    expected = clean_snapshot(settings, events)
    for seed in range(3):
        reset(settings)
        shuffled = random.Random(seed).sample(events, len(events))
        batches = [shuffled[i:i + 40] for i in range(0, len(shuffled), 40)]
        assert _side_by_side(settings, batches[0::2], batches[1::2]) == []
        assert snapshot(settings) == expected, f"shuffle {seed}"


def _side_by_side(settings: HubSettings, *shares: list[list[dict]]) -> list[BaseException]:
    """Each share applied by its own HubStore on its own thread, batch n of every share
    started together; the errors raised."""
    step = threading.Barrier(len(shares))
    failures: list[BaseException] = []

    def worker(mine: list[list[dict]]) -> None:
        store = HubStore(postgres.dsn(settings, "sanwang_processor"))
        try:
            for n in range(max(map(len, shares))):
                step.wait(timeout=120)
                if n < len(mine):
                    apply(store, mine[n])
        except BaseException as error:  # reported by the caller
            failures.append(error)
            step.abort()
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _a_persons_police_and_civil_records() -> tuple[dict, dict]:
    """One person's only two records, a police and a civil-affairs one."""
    return next((p, c) for records in sample_persons().values() if len(records) == 2
                for p, c in [sorted(records, key=department, reverse=True)]
                if (department(p), department(c)) == ("police", "civil_affairs"))


def _merge_uncommitted(settings: HubSettings, events: list[dict]) -> Any:
    """A worker's merge of `events`, left open: the connection, to commit."""
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_processor"))
    with conn.cursor() as cur:
        merge_events(cur, events, load_parameters(cur).parameters)
    return conn


def _rechecks_waiting(settings: HubSettings) -> int:
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM hub.merge_rechecks")
        return cur.fetchone()[0]


def _run_rechecks(settings: HubSettings) -> None:
    """Another worker's next batch (here an empty one) runs every waiting recheck."""
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        store.apply([])
    finally:
        store.close()


def test_two_merges_that_miss_each_others_records_are_merged_by_a_recheck(
        stack: HubSettings) -> None:
    """Two workers each merge one of a person's two records, both before either commits: each
    misses the other's record. Their rechecks, run by a third worker as a crashed worker's
    would be, link them, and the store is the clean run's."""
    settings = hub_settings(stack)
    police, civil = _a_persons_police_and_civil_records()
    expected = clean_snapshot(settings, [police, civil])
    assert len(expected["groups"]) == 1
    reset(settings)
    first = _merge_uncommitted(settings, [police])
    second = _merge_uncommitted(settings, [civil])
    first.commit()
    second.commit()
    for conn in (first, second):
        conn.close()
    assert len(snapshot(settings)["groups"]) == 2, "each merge saw the other's record"
    assert _rechecks_waiting(settings) == 2
    _run_rechecks(settings)
    assert snapshot(settings) == expected
    assert _rechecks_waiting(settings) == 0


def test_an_edge_to_a_version_changed_meanwhile_is_recomputed_by_a_recheck(
        stack: HubSettings) -> None:
    """A police record is corrected to be about someone else while another worker links a
    civil-affairs record of the first person to it: that worker saw the old version and,
    once the correction commits, joins the records into one resident. A recheck finds the
    edge to a record written unseen and splits them as a clean run of the same events would."""
    settings = hub_settings(stack)
    police, civil = _a_persons_police_and_civil_records()
    someone_else = next(records[0] for records in sample_persons().values()
                        if police not in records and department(records[0]) == "police")
    correction = corrected(police, content=someone_else)
    expected = clean_snapshot(settings, [police, correction, civil])
    assert len(expected["groups"]) == 2
    reset(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    apply(store, [police])
    store.close()
    correcting = _merge_uncommitted(settings, [correction])  # holds the police resident's lock

    def link() -> None:
        conn = _merge_uncommitted(settings, [civil])
        conn.commit()
        conn.close()

    linked = threading.Thread(target=link)
    linked.start()  # sees the old version, then waits for that resident
    _wait_for_a_lock_wait(settings)
    correcting.commit()
    correcting.close()
    linked.join(timeout=60)
    assert len(snapshot(settings)["groups"]) == 1, "joined by an edge to the old version"
    _run_rechecks(settings)
    assert snapshot(settings) == expected


def _wait_for_a_lock_wait(settings: HubSettings, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cur.fetchone()[0]:
                return
            conn.rollback()
            time.sleep(0.05)
    raise AssertionError("the second merge never waited for the first one's resident")
