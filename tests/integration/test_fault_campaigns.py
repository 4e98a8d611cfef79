"""Fault campaigns against the real stack: the processor killed with SIGKILL again and again
during a replay, PostgreSQL restarted under a running processor, the broker killed with SIGKILL
during a backfill. Each faulted run is compared with an uninterrupted run over the same events:
nothing lost, nothing applied twice, the same residents and golden values.

Every campaign is seeded (the moments of its faults repeat) and bounded by a time limit; the
shared services (the session's PostgreSQL and broker) are up again when a campaign ends,
whatever happened in it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from kafka import KafkaConsumer, TopicPartition
from psycopg2 import sql

from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from deploy import kafka_broker, postgres
from deploy.kafka_auth import ADMIN, client_config
from deploy.private_stack import settings_env
from deploy.processes import read_pid
from deploy.settings import HubSettings
from schemas.topics import raw_topic
from streams.lag import LagProbe
from tests.integration.conftest import hub_settings
from tests.integration.fault_tools import (
    FaultNotSurvived,
    backfill_city,
    differences,
    kafka_pid_file,
    kill_9,
    landed,
    landing_problems,
    log_tail,
    open_write_transactions,
    published_events,
    spawn_processor,
    store_state,
    time_limit,
    total_lag,
    wait_caught_up,
    wait_for_first_landing,
)
from tests.integration.kafka_topics import read_topic
from tests.integration.workers import stop_worker, worker_log

CITY_PERSONS, CITY_SEED = 9000, 20261127  # 20,912 records of three departments (police 10,311)
KILLS, KILL_SEED = 10, 1127
# the killed workers' batch size: 42 batches in the replay, so that 10 kills all fall inside it
# (at the default 2,000 a worker merges a few of the replay's 11 batches between two kills)
KILLED_BATCH = 500
# how long each worker merges before its kill: ten kills take ~18 s of merging, well inside the
# replay (1 to 6 s each used up to ~35 s, and the replay ended first once the merge got faster)
KILL_DELAY = (0.5, 3.0)
SMALL_CITY_PERSONS, SMALL_CITY_SEED = 1500, 1501
RESTART_SEED, POSTGRES_DOWN_SECONDS = 15432, 3.0
BROKER_KILL_SEED = 19092


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    generate_city(CITY_PERSONS, CITY_SEED, folder)
    return folder


# --- 1. kill -9 the processor at random moments during a replay -------------------------------

@dataclass
class Kill:
    after_landing: float  # seconds after this worker first landed events of its own
    inside_write_transaction: bool  # the worker had a batch's transaction open, with writes
    landed_before: int


def test_processor_killed_again_and_again_during_a_replay_loses_and_doubles_nothing(
        stack: HubSettings, city: Path) -> None:
    started = time.monotonic()
    clean, faulted = hub_settings(stack), hub_settings(stack)
    clean_worker: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    kills: list[Kill] = []
    rng = random.Random(KILL_SEED)
    with time_limit(600, "kill -9 campaign"):  # two replays of 21k events on a shared 2-core box
        try:
            backfill_city(clean, city)
            clean_worker = spawn_processor(clean, "clean")  # never killed, beside the campaign
            backfill_city(faulted, city)  # every event waits in Kafka before the first worker
            published = published_events(faulted)
            assert len(published.distinct) >= 20_000
            probe = LagProbe(faulted)
            try:
                while len(kills) < KILLS:
                    name = f"killed-{len(kills)}"
                    before = landed(faulted)
                    worker = spawn_processor(faulted, name, KILLED_BATCH)
                    wait_for_first_landing(faulted, worker, name, before)
                    delay = rng.uniform(*KILL_DELAY)
                    time.sleep(delay)
                    assert worker.poll() is None, log_tail(worker_log(faulted, name))
                    inside = open_write_transactions(faulted) > 0
                    lag = total_lag(probe)
                    worker.kill()  # SIGKILL, this worker's pid only
                    worker.wait()
                    assert lag is None or lag > 0, (
                        f"the replay ended before the campaign did ({len(kills)} kills)")
                    kills.append(Kill(delay, inside, before))
            finally:
                probe.close()
            worker = spawn_processor(faulted, "last")
            wait_caught_up(faulted, 200, worker, "last")
            wait_caught_up(clean, 200, clean_worker, "clean")
            assert worker.poll() is None and clean_worker.poll() is None
        finally:
            stop_worker(worker)
            stop_worker(clean_worker)

        assert landing_problems(faulted, published) == []
        assert landing_problems(clean, published_events(clean)) == []
        got, want = store_state(faulted), store_state(clean)
        assert differences(got, want) == []
    assert len(kills) >= KILLS
    inside = sum(k.inside_write_transaction for k in kills)
    assert inside >= KILLS // 2, f"only {inside} kills hit an open batch transaction"
    print(f"\nkill -9 campaign: {len(kills)} kills survived ({inside} inside an open batch "
          f"transaction; after {[round(k.after_landing, 1) for k in kills]} s), "
          f"{len(published.ids)} events published ({len(published.distinct)} distinct), "
          f"{len(got['records'])} records and {len(got['groups'])} residents checked, "
          f"lost 0, doubled 0, in {time.monotonic() - started:.0f} s")


# --- 2. restart PostgreSQL under a running processor ------------------------------------------

@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small-city")
    generate_city(SMALL_CITY_PERSONS, SMALL_CITY_SEED, folder)
    return folder


@contextmanager
def postgres_down(stack: HubSettings) -> Iterator[None]:
    """The session's PostgreSQL stopped (pg_ctl stop -m fast), and started again on the way out,
    whatever happens inside."""
    try:
        assert postgres.stop_local(stack)
        yield
    finally:
        if not postgres.is_running_locally(stack):
            postgres.start(stack)


def test_processor_rides_out_a_postgres_restart_mid_merge(
        stack: HubSettings, small_city: Path) -> None:
    started = time.monotonic()
    clean, faulted = hub_settings(stack), hub_settings(stack)
    rng = random.Random(RESTART_SEED)
    clean_worker = worker = replacement = None
    outcome: list[str] = []
    with time_limit(180, "PostgreSQL restart campaign"):
        try:
            backfill_city(clean, small_city)
            backfill_city(faulted, small_city)
            published = published_events(faulted)
            # the uninterrupted run first: the restart would interrupt it too
            clean_worker = spawn_processor(clean, "clean")
            wait_caught_up(clean, 120, clean_worker, "clean")
            stop_worker(clean_worker)

            worker = spawn_processor(faulted, "restarted-db")
            wait_for_first_landing(faulted, worker, "restarted-db", landed(faulted))
            delay = rng.uniform(0.5, 2.0)
            time.sleep(delay)
            inside = open_write_transactions(faulted) > 0
            with postgres_down(stack):
                time.sleep(POSTGRES_DOWN_SECONDS)
            outcome.append(f"PostgreSQL stopped {delay:.1f} s into the merge (inside an open "
                           f"batch transaction: {inside}), down {POSTGRES_DOWN_SECONDS:.0f} s")
            try:
                wait_caught_up(faulted, 120, worker, "restarted-db")
            except AssertionError:
                if worker.poll() is None:
                    raise
                outcome.append(f"the worker exited with {worker.returncode}:\n"
                               + log_tail(worker_log(faulted, "restarted-db"), 12))
                # what a supervisor (systemd, Kubernetes) would do: start it again
                replacement = spawn_processor(faulted, "replacement")
                wait_caught_up(faulted, 120, replacement, "replacement")
                outcome.append("a replacement worker caught up")
        finally:
            stop_worker(worker)
            stop_worker(replacement)
            stop_worker(clean_worker)
        problems = landing_problems(faulted, published) + differences(
            store_state(faulted), store_state(clean))
        outcome.append(f"{len(published.distinct)} events, {len(published.refs)} records "
                       f"checked; problems: {problems or 'none'}")
    print("\nPostgreSQL restart: " + "; ".join(outcome)
          + f"; in {time.monotonic() - started:.0f} s")
    if replacement is not None or problems:
        raise FaultNotSurvived("\n".join(outcome))


def test_batch_waiting_for_postgres_survives_a_worker_crash(
        stack: HubSettings, small_city: Path) -> None:
    """The loss the restart campaign can hit, made deterministic and kept to this test's own
    database: PostgreSQL refuses new connections (as during a restart) while the worker's
    batch waits to connect, then drops the connection the worker's relay holds."""
    started = time.monotonic()
    hub = hub_settings(stack)
    admin = psycopg2.connect(postgres.dsn(hub, postgres.ADMIN_ROLE, "postgres"))
    admin.autocommit = True
    worker = replacement = None
    exit_code = lag_after_crash = None
    processor_backends = ("SELECT {} FROM pg_stat_activity WHERE datname = %s"
                          " AND usename = 'sanwang_processor'")
    with time_limit(120, "batch waiting for PostgreSQL when the worker crashes"), \
            admin.cursor() as cur:
        try:
            worker = spawn_processor(hub, "dropped")
            deadline = time.monotonic() + 60
            while True:  # the relay timer holds its connection
                cur.execute(processor_backends.format("count(*)"), (hub.database,))
                if cur.fetchone()[0]:
                    break
                assert worker.poll() is None, log_tail(worker_log(hub, "dropped"))
                assert time.monotonic() < deadline, "the worker never connected"
                time.sleep(0.1)
            cur.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 0").format(
                sql.Identifier(hub.database)))
            tally = backfill_file(hub, "civil_affairs", small_city / "civil_affairs.csv",
                                  progress=False)
            assert tally.reconciles and tally.published > 0
            while "PostgreSQL unavailable" not in worker_log(hub, "dropped").read_text(
                    errors="replace"):  # the batch waits in the retry loop
                assert worker.poll() is None, log_tail(worker_log(hub, "dropped"))
                assert time.monotonic() < deadline, "the worker never tried a batch"
                time.sleep(0.1)
            cur.execute(processor_backends.format("count(pg_terminate_backend(pid))"),
                        (hub.database,))
            try:
                exit_code = worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass  # still waiting for PostgreSQL: what it should do
        finally:
            cur.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT -1").format(
                sql.Identifier(hub.database)))
        published = published_events(hub)
        try:
            if exit_code is not None:
                probe = LagProbe(hub)
                try:
                    lag_after_crash = total_lag(probe)
                finally:
                    probe.close()
                replacement = spawn_processor(hub, "after-crash")
            wait_caught_up(hub, 90, replacement or worker,
                           "after-crash" if replacement else "dropped")
        finally:
            stop_worker(worker)
            stop_worker(replacement)
        problems = landing_problems(hub, published)
    admin.close()
    print(f"\nbatch waiting for PostgreSQL when the worker crashed: worker "
          f"{'survived' if exit_code is None else f'exited {exit_code}'}, lag after the crash "
          f"{lag_after_crash} of {len(published.ids)} published, problems: {problems or 'none'}"
          f"; in {time.monotonic() - started:.0f} s")
    if problems:
        raise FaultNotSurvived(f"worker exit {exit_code}, lag left after it {lag_after_crash}: "
                               f"{problems}\n" + log_tail(worker_log(hub, "dropped"), 30))


# --- 3. kill -9 the broker during a connector's backfill --------------------------------------

def _police_records(city: Path) -> set[str]:
    lines = (city / "truth.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",")[1] for line in lines if line.startswith("police,")}


def _connect(settings: HubSettings, path: Path) -> subprocess.Popen:
    log = open(settings.home / f"connector-{settings.topic_prefix}.log", "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "connect", "police", "--file", str(path),
             "--no-progress"], env=settings_env(settings), stdout=log,
            stderr=subprocess.STDOUT)
    finally:
        log.close()


def _held(settings: HubSettings, topic: str) -> int:
    """Messages the broker holds (acknowledged) in the topic, all partitions."""
    consumer = KafkaConsumer(**client_config(settings, ADMIN), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def _wait_for_messages(settings: HubSettings, topic: str, proc: subprocess.Popen,
                       at_least: int = 1, timeout: float = 60.0) -> None:
    """Until the topic holds `at_least` messages: the connector is publishing."""
    deadline = time.monotonic() + timeout
    while _held(settings, topic) < at_least:
        assert proc.poll() is None, f"the connector ended before it published {at_least}"
        assert time.monotonic() < deadline, f"nothing published to {topic} in {timeout:.0f} s"
        time.sleep(0.05)


def test_broker_killed_during_a_backfill_loses_no_acknowledged_record(
        hub: HubSettings, city: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    export = tmp_path / "police_population.csv"  # a file of this test's own: its own progress
    export.write_bytes((city / "police_population.csv").read_bytes())
    expected = _police_records(city)
    topic = raw_topic(hub.topic_prefix, "police")
    rng = random.Random(BROKER_KILL_SEED)
    pid_file = kafka_pid_file(hub)
    runs: list[int] = []
    connector: subprocess.Popen | None = None
    with time_limit(240, "broker kill -9 campaign"):
        try:
            connector = _connect(hub, export)
            # killed once a seeded share of the file is acknowledged, not after a fixed sleep:
            # a connector fast enough published the whole file within the sleep
            _wait_for_messages(hub, topic, connector,
                               at_least=rng.randint(len(expected) // 10, len(expected) * 4 // 10))
            held_at_kill = _held(hub, topic)
            assert connector.poll() is None, "the backfill finished before the broker was killed"
            pid = read_pid(pid_file)
            assert pid is not None, f"no live broker in {pid_file}"
            kill_9(pid)
            killed_at = time.monotonic()
            assert connector.poll() is None
            assert kafka_broker.start(hub)  # the same data directory, recovered after SIGKILL
            restarted_in = time.monotonic() - killed_at
            for attempt in range(3):  # a backfill that gave up is run again: it resumes
                if attempt:
                    connector = _connect(hub, export)
                try:
                    runs.append(connector.wait(timeout=200))
                except subprocess.TimeoutExpired:
                    connector.kill()
                    connector.wait()
                    runs.append(-9)
                if runs[-1] == 0:
                    break
        finally:
            if connector is not None and connector.poll() is None:
                connector.kill()
                connector.wait()
            if read_pid(pid_file) is None:
                kafka_broker.start(hub)
        assert kafka_broker.is_healthy(hub)
        assert runs[-1] == 0, f"the backfill never completed: exit codes {runs}\n" + log_tail(
            hub.home / f"connector-{hub.topic_prefix}.log")
        events = read_topic(hub, topic)
    subjects = {event["subject"] for event in events}
    lost = expected - subjects
    assert not lost, f"{len(lost)} records of the file are not in the topic: {sorted(lost)[:5]}"
    assert subjects == expected
    print(f"\nbroker kill -9 during the police backfill ({held_at_kill} of {len(expected)} "
          f"records acknowledged just before): broker back in {restarted_in:.1f} s, "
          f"connector runs {runs}, {len(expected)} records checked, {len(events)} messages "
          f"({len(events) - len({e['id'] for e in events})} resent duplicates), lost 0, "
          f"in {time.monotonic() - started:.0f} s")
