"""Parameters re-estimated as the store grows: after a switch, every record is linked again, so
the store ends as a clean run with the new parameters would leave it, whatever arrived before,
during or after the switch (streams/parameter_store.py, streams/relink.py)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from typing import Any

import psycopg2
import pytest

from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from deploy import postgres
from deploy.locks import MERGE_LOCK
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from streams import relink
from streams.estimation_sample import EstimationSample, sample_of
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor
from streams.landing import HubStore
from streams.matching import Parameters
from streams.parameter_store import load_parameters, switch_parameters
from streams.record_store import load_features
from streams.reestimate import reestimate, store_size
from streams.relink import pending
from streams.sample_store import stored_sample
from tests.integration.conftest import hub_settings, query
from tests.integration.store_runs import (
    Crash,
    apply,
    city_events,
    clean_snapshot,
    corrected,
    reset,
    snapshot,
)
from tests.integration.workers import joined, spawn_worker, stop_worker, worker_log
from tests.samples import EXPORTS as FIVE_EXPORTS
from tests.samples import SAMPLE5, sample5_events

PERSONS, SEED, NOISE = 700, 11, 2  # twice today's noise: where the shipped parameters lose pairs
BATCH = 150


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("city")
    generate_city(PERSONS, SEED, folder, noise=NOISE)
    return city_events(folder)


@pytest.fixture(scope="module")
def settings(stack: HubSettings) -> HubSettings:
    return hub_settings(stack)


def _cursor_work(settings: HubSettings, work: Any) -> Any:
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            return work(cur)
    finally:
        conn.close()


def _forget_parameters(settings: HubSettings) -> None:
    reset(settings)
    _cursor_work(settings, lambda cur: cur.execute(
        "TRUNCATE hub.match_parameters, hub.relink_pending"))


def _stored_with_shipped_parameters(settings: HubSettings, events: list[dict[str, Any]]
                                    ) -> None:
    _forget_parameters(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        apply(store, events)
    finally:
        store.close()


def _relink_all(store: HubStore) -> int:
    done = 0
    while (records := store.relink_batch()) is not None:
        done += records
    return done


def test_a_switch_mid_stream_ends_as_a_clean_run_with_the_new_parameters(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    _forget_parameters(settings)
    delivery = random.Random(SEED).sample(events, len(events))
    half = len(delivery) // 2
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        for start in range(0, half, BATCH):  # with the shipped parameters
            apply(store, delivery[start:start + BATCH])
        done = _cursor_work(settings, lambda cur: reestimate(cur, store_size(cur)))
        assert done.queued == done.records > 0
        for start in range(half, len(delivery), BATCH):  # new records meet relinked ones
            apply(store, delivery[start:start + BATCH])
            store.relink_batch()
        _relink_all(store)
    finally:
        store.close()
    assert _cursor_work(settings, pending) == 0
    streamed = snapshot(settings)
    estimated = _cursor_work(settings, load_parameters)
    assert estimated.version == 1 and estimated.records == done.records

    # the same records in one batch, with those parameters from the start
    assert clean_snapshot(settings, events) == streamed

    _forget_parameters(settings)  # and with the shipped ones: they group this city otherwise
    assert clean_snapshot(settings, events)["groups"] != streamed["groups"]


def test_the_same_parameters_again_link_nothing_again(settings: HubSettings,
                                                      events: list[dict[str, Any]]) -> None:
    _forget_parameters(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        apply(store, events)
        first = _cursor_work(settings, lambda cur: reestimate(cur, store_size(cur)))
        assert _relink_all(store) == first.queued > 0
        again = _cursor_work(settings, lambda cur: reestimate(cur, store_size(cur)))
    finally:
        store.close()
    assert again.queued == 0
    assert _cursor_work(settings, load_parameters).version == 1


def test_a_processor_re_estimates_once_the_store_is_big_enough_and_when_it_goes_quiet(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    _forget_parameters(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    enough = len({(e["source"], e["subject"]) for e in events}) // 2
    try:
        apply(store, events[:len(events) // 3])
        size, done = store.reestimate(enough, None)
        assert done is None, "below the fewest records to estimate from"
        apply(store, events[len(events) // 3:])
        size, done = store.reestimate(enough, size.events)
        assert done is not None and done.records == size.records  # first time: at once
        _relink_all(store)
        assert store.reestimate(enough, size.events)[1] is None, "nothing landed since"
        apply(store, [corrected(next(e for e in events if e['source'].endswith('police')))])
        size, done = store.reestimate(enough, None)
        assert done is None, "changed, but still landing: it waits for quiet or doubling"
        size, done = store.reestimate(enough, size.events)
        assert done is not None, "changed and quiet since the last look"
    finally:
        store.close()
    assert _cursor_work(settings, load_parameters).events_seen == size.events


def test_a_switch_while_a_backlog_waits_owes_the_relink_to_the_next_estimate(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    """Estimates made while a backlog waits switch the parameters and queue nothing; the first
    one made without a backlog queues every record once, even with nothing landed since, and
    the store ends as a clean run with the parameters would leave it."""
    _forget_parameters(settings)
    delivery = random.Random(SEED).sample(events, len(events))
    half = len(delivery) // 2
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        apply(store, delivery[:half])
        assert not store.relink_owed()
        size, done = store.reestimate(2, None, backlog=True)
        assert done is not None and done.owed and done.queued == 0
        assert _cursor_work(settings, pending) == 0 and store.relink_owed()
        apply(store, delivery[half:])
        size, done = store.reestimate(2, None, backlog=True)
        assert done is not None and done.owed and done.queued == 0, "grown, still owed"
        assert _cursor_work(settings, load_parameters).version == 2
        assert store.reestimate(2, None, backlog=True)[1] is None, "a backlog: it waits"
        size, done = store.reestimate(2, size.events)
        assert done is not None and not done.owed, "nothing landed, but a relink was owed"
        assert done.queued == done.records == _relink_all(store) > 0 and not store.relink_owed()
        assert store.reestimate(2, size.events)[1] is None, "paid: nothing owed any more"
    finally:
        store.close()
    estimated = _cursor_work(settings, load_parameters)
    assert not estimated.relink_owed and estimated.events_seen == size.events
    assert clean_snapshot(settings, events) == snapshot(settings)


RESIDENTS = "SELECT resident_id, updated_at FROM hub.residents ORDER BY 1"
OUTBOX = "SELECT count(*) FROM hub.change_outbox"
SCORES = "SELECT source, record_id, score FROM hub.source_links ORDER BY 1, 2"


def test_new_scores_that_move_no_record_rewrite_no_resident(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    """Linking again with parameters that move scores but no record (a name agreeing weighs
    a little more) updates the links' scores and nothing else: no resident is rewritten and
    the change feed says nothing, for nothing a department reads has changed."""
    _forget_parameters(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        apply(store, events)
        residents, outbox, scores = (query(settings, sql) for sql in (RESIDENTS, OUTBOX, SCORES))
        shipped = _cursor_work(settings, load_parameters).parameters
        nudged = Parameters({**shipped.m, "name": {level: p * 1.01 for level, p
                                                   in shipped.m["name"].items()}},
                            shipped.u, shipped.link, shipped.review)
        queued = _cursor_work(settings, lambda cur: switch_parameters(cur, nudged, 0, 0))
        assert _relink_all(store) == queued > 0
    finally:
        store.close()
    assert query(settings, SCORES) != scores, "the scores moved"
    assert query(settings, RESIDENTS) == residents
    assert query(settings, OUTBOX) == outbox


def test_a_switch_waits_for_merges_under_way(settings: HubSettings) -> None:
    """The switch takes the merge lock exclusively: a merge holding it shared keeps it out."""
    _forget_parameters(settings)
    merging = psycopg2.connect(postgres.dsn(settings))
    switching = psycopg2.connect(postgres.dsn(settings))
    try:
        with merging.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
        with switching.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
            shipped = load_parameters(cur).parameters
            with pytest.raises(psycopg2.errors.LockNotAvailable):
                switch_parameters(cur, shipped, 0, 0)
    finally:
        merging.close()
        switching.close()



def test_the_store_samples_its_records_as_a_clean_run_does(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    """streams/sample_store.py's SQL against streams/estimation_sample.py on the same stored
    records, with limits small enough that both cut (a few hundred of ~1,800 records)."""
    _stored_with_shipped_parameters(settings, events)

    def both(cur: Any) -> tuple[EstimationSample, EstimationSample, int]:
        cur.execute("SELECT ref FROM hub.source_records ORDER BY ref")
        every = [ref for (ref,) in cur.fetchall()]
        labelled = set(every[::97]) | {"police:nobody"}
        records = list(load_features(cur, every).values())
        return (stored_sample(cur, labelled, u_records=300, m_pairs=100),
                sample_of(records, labelled, u_records=300, m_pairs=100), len(records))

    stored, clean, records = _cursor_work(settings, both)
    assert stored == clean
    assert len(stored.unrelated) == 300 and len(stored.records()) < records / 2
    assert stored.by_id and stored.by_key and stored.partners and len(stored.labelled) > 10


def test_a_running_processor_re_estimates_and_links_every_record_again(
        stack: HubSettings) -> None:
    """The real `sanwang process`, the five-department sample through Kafka: its timer
    re-estimates from the store (small thresholds here) and its workers link every record
    again, ending as a clean run with the parameters estimated from all of the records."""
    hub = hub_settings(stack).model_copy(update={"reestimate_seconds": 1,
                                                 "reestimate_min_records": 2})
    worker = joined(hub, spawn_worker(hub, "reestimating"))
    try:
        for department, name in FIVE_EXPORTS.items():
            assert backfill_file(hub, department, SAMPLE5 / name, progress=False).reconciles
        wait_for_processor(hub, timeout=300)
        deadline = time.monotonic() + 180
        while query(hub, SETTLED) != [(True,)]:
            assert time.monotonic() < deadline, "the parameters never settled"
            assert worker.poll() is None, worker_log(hub, "reestimating").read_text()[-2000:]
            time.sleep(0.5)
    finally:
        stop_worker(worker)
    estimated = _cursor_work(hub, load_parameters)
    assert estimated.version >= 1 and estimated.records == query(
        hub, "SELECT count(*) FROM hub.source_records")[0][0]
    scores = store_scores(hub, read_truth(SAMPLE5 / "truth.csv"))
    assert scores.precision >= 0.999 and scores.recall >= 0.998, scores
    streamed = snapshot(hub)  # the parameters stay: a clean run with them
    assert clean_snapshot(hub, list(sample5_events())) == streamed


# estimated from every event landed, and nothing left to link again
SETTLED = ("SELECT events_seen = (SELECT count(*) FROM hub.events) AND NOT relink_owed"
           " AND NOT EXISTS (SELECT FROM hub.relink_pending) FROM hub.match_parameters")


def test_sanwang_estimate_switches_and_links_every_record_again(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    _stored_with_shipped_parameters(settings, events)
    records = query(settings, "SELECT count(*) FROM hub.source_records")[0][0]
    first, again = (subprocess.run([sys.executable, "-m", "cli.main", "estimate",
                                    "--no-progress"], env=settings_env(settings),
                                   capture_output=True, text=True, timeout=300)
                    for _ in range(2))
    assert first.returncode == 0, first.stderr
    assert f"estimated from a sample of {records} of the {records} records" in first.stdout
    assert f"{records} records linked again with them" in first.stdout
    assert again.returncode == 0 and "nothing to link again" in again.stdout, again.stdout
    assert _cursor_work(settings, pending) == 0
    assert _cursor_work(settings, load_parameters).version == 1


def test_a_relink_batch_that_dies_before_its_commit_leaves_its_records_queued(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    """As a worker killed while it relinks: nothing of the batch stays, its records wait in the
    queue again, and the next worker's relinking ends as the clean run with the parameters."""
    _forget_parameters(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    real = relink.link_again

    def link_then_crash(cur: Any, *args: Any) -> None:
        real(cur, *args)
        raise Crash

    try:
        apply(store, events)
        done = _cursor_work(settings, lambda cur: reestimate(cur, store_size(cur)))
        relink.link_again = link_then_crash
        with pytest.raises(Crash):
            store.relink_batch()
        relink.link_again = real
        assert _cursor_work(settings, pending) == done.queued
        assert _relink_all(store) == done.queued
    finally:
        relink.link_again = real
        store.close()
    relinked = snapshot(settings)
    assert clean_snapshot(settings, events) == relinked


def test_queued_records_are_linked_again_a_block_at_a_time(
        settings: HubSettings, events: list[dict[str, Any]]) -> None:
    """A relink batch holds whole groups of birth year, surname and pinyin (the commonest
    blocking keys), so its records are one another's candidates: only the group at the batch's
    end may be cut, where taking records in ref order cuts nearly every group."""
    _stored_with_shipped_parameters(settings, events)

    def first_batch(cur: Any) -> tuple[set[str], dict[str, tuple]]:
        reestimate(cur, store_size(cur))
        cur.execute("SELECT ref FROM hub.relink_pending")
        queued = {ref for (ref,) in cur.fetchall()}
        relink.relink_some(cur, limit=200)
        cur.execute("SELECT ref FROM hub.relink_pending")
        left = {ref for (ref,) in cur.fetchall()}
        return queued - left, {ref: ((f.birth or "")[:4], (f.name or "")[:1], f.pinyin)
                               for ref, f in load_features(cur, queued).items()}

    taken, group_of = _cursor_work(settings, first_batch)
    assert len(taken) == 200
    groups_taken = {group_of[ref] for ref in taken}
    cut = {group for group in groups_taken
           if any(group_of[ref] == group for ref in group_of.keys() - taken)}
    assert len(cut) <= 1 and len(groups_taken) < 200
