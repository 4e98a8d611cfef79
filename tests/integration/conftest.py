"""The real stack, started once per session; each test gets its own topics and database."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from deploy import id_keys, postgres
from deploy.kafka_acls import ensure_acls
from deploy.migrations import apply_migrations
from deploy.private_stack import private_settings
from deploy.settings import HubSettings
from deploy.stack import down, up
from deploy.topics import ensure_topics
from schemas.departments import department
from schemas.topics import all_topics
from streams.id_protection import open_bytes, open_sealed
from tests.integration.workers import joined, spawn_worker, stop_worker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSettings]:
    settings = private_settings(tmp_path_factory.mktemp("stack"))
    up(settings, say=lambda line: None)
    id_keys.install(id_keys.load_keyring(settings))  # the store's reads and writes in-process
    yield settings
    down(settings, say=lambda line: None)
    shutil.rmtree(postgres.cluster_dir(settings), ignore_errors=True)


@pytest.fixture
def hub(stack: HubSettings) -> HubSettings:
    """The session stack with a topic prefix and a database of this test's own."""
    return hub_settings(stack)


def hub_settings(stack: HubSettings) -> HubSettings:
    """Settings with a fresh topic prefix (topics and ACLs created) and database (migrations
    applied)."""
    suffix = uuid.uuid4().hex[:10]
    settings = stack.model_copy(update={"topic_prefix": f"t{suffix}",
                                        "database": f"test_{suffix}"})
    ensure_topics(settings, all_topics(settings.topic_prefix))
    ensure_acls(settings)
    postgres.ensure_database(settings)
    apply_migrations(postgres.dsn(settings))
    return settings


@pytest.fixture
def processor(hub: HubSettings) -> Iterator[subprocess.Popen]:
    """A real `sanwang process` worker for this test's topics and database, in the group."""
    proc = joined(hub, spawn_worker(hub))
    yield proc
    stop_worker(proc)


def query(settings: HubSettings, sql: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def all_relayed(settings: HubSettings, timeout: float = 60) -> None:
    """Wait until the processor's relay has published every change-feed entry to Kafka (it
    runs on a timer, after the events are stored)."""
    deadline = time.monotonic() + timeout
    while query(settings, "SELECT count(*) FROM hub.change_outbox WHERE sent_at IS NULL")[0][0]:
        assert time.monotonic() < deadline, "the change feed relay did not catch up"
        time.sleep(0.5)


def landed_events(settings: HubSettings, where: str = "true") -> dict[str, dict]:
    """The landed events, by id, opened with the keyring (the store holds them sealed)."""
    import orjson

    keyring = id_keys.process_keyring()
    rows = query(settings, "SELECT event_id, payload FROM hub.events WHERE "
                 + where.replace("%", "%%"))
    return {event_id: orjson.loads(open_bytes(keyring, payload)) for event_id, payload in rows}


def clear_id_numbers(settings: HubSettings) -> dict[str, str | None]:
    """Each resident's ID number, opened with the keyring (the store holds it sealed)."""
    keyring = id_keys.process_keyring()
    return {resident: sealed and open_sealed(keyring, sealed) for resident, sealed in query(
        settings, "SELECT resident_id, id_number_sealed FROM hub.residents")}


@pytest.fixture
def police_db(hub: HubSettings) -> Iterator[str]:
    """A police database of this test's own, owned by sanwang_owner; its DSN."""
    name = f"police_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(postgres.dsn(hub, "sanwang_owner"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    dsn = postgres.dsn(hub, "sanwang_owner", name)
    run_sql(dsn, department("police").live.ddl)
    yield dsn
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def run_sql(dsn: str, *statements: tuple[str, tuple] | str) -> None:
    """Run the statements in one transaction and commit it."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        for statement in statements:
            query, params = (statement, ()) if isinstance(statement, str) else statement
            cur.execute(query, params)
    conn.close()
