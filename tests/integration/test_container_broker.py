"""The Kafka broker of deploy/compose/docker-compose.yaml, run from its manifest with the jars
`sanwang up` uses (no Docker engine here): deploy/kafka/format-storage.sh formats its storage with
the kafka-format service's environment, the kafka service's environment becomes server.properties
as the apache/kafka image makes it, and the migrate service's script creates the topics, ACLs and
schema. Then each principal of the compose file authenticates with its own password and is
refused outside its ACLs; a wrong password gets nowhere; the push service publishes as every
department that pushes. Only the addresses and the data folder differ from the manifest
(loopback, free ports, a temporary folder)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError
from pydantic import SecretStr

from connectors.push_api import push_departments
from deploy import kafka_broker, postgres
from deploy.kafka_auth import ADMIN, PROCESSOR, client_config, principals
from deploy.private_stack import free_port
from deploy.settings import HubSettings
from schemas.topics import all_topics, raw_topic

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose" / "docker-compose.yaml"
FORMAT_STORAGE = REPO / "deploy" / "kafka" / "format-storage.sh"
STORAGE_TOOL = "/opt/kafka/bin/kafka-storage.sh"  # where the image has it
# what KafkaDockerWrapper does not turn into broker properties, of what the manifest sets
IMAGE_VARIABLES = {"KAFKA_HEAP_OPTS"}


def password_variable(principal: str) -> str:
    return f"HUB_KAFKA_{principal.upper()}_PASSWORD"


@pytest.fixture(scope="module")
def compose_env(stack: HubSettings) -> dict[str, str]:
    """The env file: fresh Kafka passwords, the session stack's keyring and a database of its
    own for the migrate step (created, not migrated)."""
    database = f"compose_{uuid.uuid4().hex[:10]}"
    postgres.ensure_database(stack.model_copy(update={"database": database}))
    return {**{password_variable(p): secrets.token_hex(16) for p in principals()},
            "HUB_ID_KEYRING": stack.id_keyring.get_secret_value() or "{}",
            "HUB_OWNER_PASSWORD": "unused", "DATABASE": database}


def service_env(service: str, env_file: dict[str, str], ports: dict[int, int],
                data: Path) -> dict[str, str]:
    """A compose service's environment, interpolated, its addresses on loopback."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"][service]
    env = {}
    for name, value in spec["environment"].items():
        text = re.sub(r"\$\{(\w+)[^}]*\}", lambda v: env_file[v[1]], str(value))
        for port, free in ports.items():
            text = text.replace(f":{port}", f":{free}")
        text = re.sub(r"//(kafka|localhost)?:", "//127.0.0.1:", text)
        text = text.replace("@localhost:", "@127.0.0.1:").replace("kafka:", "127.0.0.1:")
        env[name] = text.replace("/var/lib/kafka/data", str(data))
    return env


def server_properties(env: dict[str, str]) -> str:
    """What kafka.docker.KafkaDockerWrapper writes from the KAFKA_* variables."""
    return "".join(
        name.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-")
        .replace("..", "_") + f"={value}\n"
        for name, value in env.items() if name.startswith("KAFKA_") and name not in IMAGE_VARIABLES)


@pytest.fixture(scope="module")
def broker(stack: HubSettings, compose_env: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSettings]:
    """The compose broker, running; settings that reach it as the hub's processes do."""
    work = tmp_path_factory.mktemp("compose-kafka")
    ports = {9092: free_port(), 9093: free_port()}
    classpath = ":".join(str(p) for p in sorted((kafka_broker.ensure_jars(stack) / "lib")
                                                .glob("*.jar"))
                         if not p.name.startswith(kafka_broker.JOLOKIA_JAR_PREFIX))
    tool = work / "kafka-storage.sh"
    tool.write_text(f'#!/bin/sh\nexec java -cp "{classpath}" kafka.tools.StorageTool "$@"\n')
    tool.chmod(0o755)
    script = FORMAT_STORAGE.read_text()
    assert STORAGE_TOOL in script
    formatted = subprocess.run(
        ["bash", "-c", script.replace(STORAGE_TOOL, str(tool))], capture_output=True, text=True,
        env={"PATH": os.environ["PATH"],
             **service_env("kafka-format", compose_env, ports, work / "data")}, timeout=120)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    config = work / "server.properties"
    config.write_text(server_properties(service_env("kafka", compose_env, ports, work / "data")))
    with open(work / "kafka.out", "w") as log:
        proc = subprocess.Popen(["java", "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(config)],
                                stdout=log, stderr=subprocess.STDOUT)
    hub = service_env("processor", compose_env, ports, work / "data")
    settings = stack.model_copy(update={
        "kafka_bootstrap": hub["SANWANG_KAFKA_BOOTSTRAP"],
        "kafka_security_protocol": hub["SANWANG_KAFKA_SECURITY_PROTOCOL"],
        "topic_prefix": hub["SANWANG_TOPIC_PREFIX"]})
    try:
        _wait_for(as_principal(settings, compose_env, ADMIN), proc, work / "kafka.out")
        yield settings
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def as_principal(settings: HubSettings, env_file: dict[str, str], principal: str,
                 password: str | None = None) -> HubSettings:
    return settings.model_copy(update={
        "kafka_principal": principal,
        "kafka_password": SecretStr(password or env_file[password_variable(principal)])})


def _wait_for(admin: HubSettings, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            client = KafkaAdminClient(**client_config(admin, ADMIN), request_timeout_ms=3000)
        except (KafkaError, OSError):
            time.sleep(1)
            continue
        client.close()
        return
    raise AssertionError("the compose broker did not answer the admin:\n" + log.read_text()[-3000:])


@pytest.fixture(scope="module")
def migrated(broker: HubSettings, compose_env: dict[str, str]) -> subprocess.CompletedProcess:
    """The compose migrate service's own script, with its own environment, run once."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"]["migrate"]
    env_file = {**compose_env, "HUB_OWNER_PASSWORD": "x"}
    env = service_env("migrate", env_file, {}, Path("/unused"))
    database = broker.model_copy(update={"database": compose_env["DATABASE"]})
    env.update(SANWANG_KAFKA_BOOTSTRAP=broker.kafka_bootstrap,
               SANWANG_DATABASE_URL=postgres.dsn(database), SANWANG_HOME=str(broker.home))
    return subprocess.run([sys.executable, *spec["entrypoint"][1:], spec["command"][-1]],
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def _write(settings: HubSettings, principal: str, topic: str) -> None:
    producer = KafkaProducer(**client_config(settings, principal), acks="all",
                             max_block_ms=15000)
    try:
        producer.send(topic, value=b"probe").get(timeout=15)
    finally:
        producer.close(timeout=5)


def test_the_compose_broker_authenticates_and_authorizes_like_the_local_one(
        broker: HubSettings, compose_env: dict[str, str],
        migrated: subprocess.CompletedProcess) -> None:
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "ACLs for the prefix: sanwang" in migrated.stdout
    unlisted = f"{broker.topic_prefix}.no-acl"  # a topic no ACL names: denied by default
    admin = KafkaAdminClient(**client_config(as_principal(broker, compose_env, ADMIN), ADMIN))
    try:
        assert set(all_topics(broker.topic_prefix)) <= set(admin.list_topics())
        admin.create_topics([NewTopic(unlisted, 1, 1)])
    finally:
        admin.close()
    conn = psycopg2.connect(postgres.dsn(broker.model_copy(
        update={"database": compose_env["DATABASE"]})))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM hub.schema_migrations")
        assert cur.fetchone()[0] > 0
    conn.close()

    police_topic = raw_topic(broker.topic_prefix, "police")
    _write(as_principal(broker, compose_env, "police"), "police", police_topic)
    refusals: list[tuple[str, str]] = [
        ("police", raw_topic(broker.topic_prefix, "civil_affairs")), (PROCESSOR, police_topic),
        ("social_security", police_topic), ("police", unlisted)]
    for principal, topic in refusals:
        with pytest.raises(TopicAuthorizationFailedError):
            _write(as_principal(broker, compose_env, principal), principal, topic)
    quick: dict[str, Any] = {"bootstrap_timeout_ms": 5000, "request_timeout_ms": 5000}
    for principal, password in (("police", compose_env[password_variable(PROCESSOR)]),
                                (ADMIN, "not-the-password")):
        wrong = as_principal(broker, compose_env, principal, password)
        with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
            KafkaAdminClient(**client_config(wrong, principal), **quick).list_topics()
    plain = {"bootstrap_servers": broker.kafka_bootstrap}
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**plain, **quick).list_topics()


def test_the_push_service_publishes_as_each_department_that_pushes(
        broker: HubSettings, compose_env: dict[str, str],
        migrated: subprocess.CompletedProcess) -> None:
    """The push service's environment (its principal, and SANWANG_KAFKA_PASSWORDS built from the
    env file) writes each pushing department's raw topic as that department, and no other's."""
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    push = service_env("push", compose_env, {}, Path("/unused"))
    settings = broker.model_copy(update={
        "kafka_principal": push["SANWANG_KAFKA_PRINCIPAL"],
        "kafka_password": SecretStr(push["SANWANG_KAFKA_PASSWORD"]),
        "kafka_passwords": SecretStr(push["SANWANG_KAFKA_PASSWORDS"])})
    pushing = sorted(d.id for d in push_departments().values())
    assert len(pushing) > 1 and push["SANWANG_KAFKA_PRINCIPAL"] in pushing
    for department in pushing:
        _write(settings, department, raw_topic(broker.topic_prefix, department))
    with pytest.raises(TopicAuthorizationFailedError):
        _write(settings, pushing[0], raw_topic(broker.topic_prefix, pushing[1]))
