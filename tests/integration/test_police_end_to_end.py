"""The first slice: the sample police export through the real broker into PostgreSQL, once."""

from __future__ import annotations

import subprocess
import sys

import psycopg2

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from streams.lag import LagProbe, wait_for_processor
from tests.integration.conftest import query
from tests.integration.workers import spawn_worker, stop_worker
from tests.samples import SAMPLE

POLICE_CSV = SAMPLE / "police_population.csv"


def _record_ids_in_file() -> list[str]:
    lines = POLICE_CSV.read_bytes().decode("gb18030").splitlines()[1:]
    return [line.split(",")[0] for line in lines if line.strip()]


def test_sample_police_file_is_stored_exactly_once_also_after_a_second_send(
    hub: HubSettings, processor: subprocess.Popen
) -> None:
    expected = _record_ids_in_file()
    assert len(expected) == len(set(expected)) == 467

    first = backfill_file(hub, "police", POLICE_CSV, progress=False)
    assert (first.read, first.published, first.dead_lettered) == (467, 467, {})
    wait_for_processor(hub, timeout=120)
    stored = query(hub, "SELECT record_id, count(*) FROM hub.events GROUP BY record_id")
    assert sorted(r for r, _ in stored) == sorted(expected)
    assert all(n == 1 for _, n in stored)

    second = backfill_file(hub, "police", POLICE_CSV, progress=False)
    assert second.published == 467
    wait_for_processor(hub, timeout=120)
    assert query(hub, "SELECT count(*), count(DISTINCT record_id) FROM hub.events") == [(467, 467)]
    assert processor.poll() is None, "the processor must still be running"


def test_the_cli_connects_and_waits(hub: HubSettings, processor: subprocess.Popen) -> None:
    env = settings_env(hub)
    sent = subprocess.run(
        [sys.executable, "-m", "cli.main", "connect", "police", "--file", str(POLICE_CSV),
         "--no-progress"], env=env, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr
    assert "read 467 = published 467 + dead-lettered 0" in sent.stdout
    waited = subprocess.run([sys.executable, "-m", "cli.main", "wait", "--timeout", "120"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert waited.returncode == 0, waited.stderr
    assert query(hub, "SELECT count(*) FROM hub.events") == [(467,)]


def test_wait_times_out_with_a_clear_message_when_nothing_is_stored(
        hub: HubSettings, processor: subprocess.Popen) -> None:
    """A processor is in the group but cannot store (the landing table locked): `wait` waits its
    timeout, then says how far behind it is. (With no processor it says so at once:
    test_process_lifecycle.py.)"""
    lock = psycopg2.connect(postgres.dsn(hub))
    try:
        with lock.cursor() as cur:
            cur.execute("LOCK TABLE hub.events IN ACCESS EXCLUSIVE MODE")
        backfill_file(hub, "police", POLICE_CSV, progress=False)
        waited = subprocess.run([sys.executable, "-m", "cli.main", "wait", "--timeout", "2"],
                                env=settings_env(hub), capture_output=True, text=True,
                                timeout=60)
    finally:
        lock.rollback()
        lock.close()
    assert waited.returncode == 1, waited.stderr
    assert "still 467 events behind" in waited.stderr
    assert "sanwang process" in waited.stderr


def test_an_unexpected_error_stops_the_worker_before_anything_is_acknowledged(
        hub: HubSettings) -> None:
    """A batch that fails for a reason other than an unreachable database (here: the store's
    landing table is gone) must stop the worker, not be skipped: its offsets stay unacknowledged
    so a fixed worker processes it again."""
    query_owner = psycopg2.connect(postgres.dsn(hub))
    with query_owner, query_owner.cursor() as cur:
        cur.execute("ALTER TABLE hub.events RENAME TO events_gone")
    query_owner.close()
    backfill_file(hub, "police", POLICE_CSV, progress=False)
    worker = spawn_worker(hub, "crash")
    try:
        assert worker.wait(timeout=120) == 70
    finally:
        stop_worker(worker)
    probe = LagProbe(hub)
    try:
        assert sum(probe.lag().values()) == 467, "nothing of the failed batch acknowledged"
    finally:
        probe.close()
