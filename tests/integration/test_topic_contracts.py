"""Every topic the hub writes, read as a department's own system would: with librdkafka
(confluent-kafka) over SASL/SCRAM-SHA-256, each message parsed by the CloudEvents SDK's Kafka
binding, checked against its JSON Schema and deduplicated on (source, id)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from kafka import KafkaProducer

from connectors.file_backfill import backfill_file, open_publish_path
from connectors.publish_api import publish_events
from connectors.push_api import create_push_app
from connectors.push_tokens import load_tokens
from deploy.kafka_auth import ADMIN, client_config
from deploy.postgres import dsn
from deploy.settings import HubSettings
from schemas.departments import all_departments
from schemas.registry import hub_event_errors, validation_errors
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    raw_topic,
)
from streams.evaluation import read_truth
from streams.lag import wait_for_processor
from tests.integration.conftest import all_relayed, hub_settings, query, run_sql
from tests.integration.kafka_topics import message_count
from tests.integration.workers import serving, spawn_worker, stop_worker
from tests.samples import SAMPLE, sample_events

# as the Kafka protocol binding's structured mode writes it, independently of schemas/events.py
STRUCTURED = {"content-type": b"application/cloudevents+json; charset=UTF-8"}
PEOPLE = {"T0000000", "T0000349", "T0000001", "T0000002"}  # the first two with planted findings
RESENT = 3  # changes the test marks unsent again, as if the relay had crashed before marking them


def _librdkafka(settings: HubSettings, principal: str, **more: Any) -> dict[str, Any]:
    """A librdkafka client's settings for `principal` (the password `sanwang up` generated)."""
    mine = client_config(settings, principal)
    return {"bootstrap.servers": mine["bootstrap_servers"],
            "security.protocol": mine["security_protocol"], "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": mine["sasl_plain_username"],
            "sasl.password": mine["sasl_plain_password"], **more}


def _consume(settings: HubSettings, principal: str, topic: str, group: str, count: int,
             timeout: float = 60) -> list[Message]:
    """`count` messages read from `topic` subscribed in `group` (fewer after `timeout`);
    KafkaException at the first error the broker answers (a refusal)."""
    consumer = Consumer(_librdkafka(settings, principal, **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            messages.append(message)
        return messages
    finally:
        consumer.close()


def _people_events(department: str) -> list[dict[str, Any]]:
    truth = read_truth(SAMPLE / "truth.csv")
    return [e for e in sample_events() if e["source"] == f"/departments/{department}"
            and truth[f"{department}:{e['subject']}"] in PEOPLE]


def _police_export(tmp: Path) -> Path:
    """The people's police rows as a GB18030 export, with one line of the wrong shape."""
    wanted = {e["subject"] for e in _people_events("police")}
    lines = (SAMPLE / "police_population.csv").read_bytes().decode("gb18030").splitlines()
    rows = [line for line in lines[1:] if line.split(",", 1)[0] in wanted]
    path = tmp / "police_population.csv"
    path.write_bytes("\n".join([lines[0], *rows, "GA-BROKEN,two fields", ""]).encode("gb18030"))
    return path


def _write_as_admin(settings: HubSettings, topic: str, values: list[bytes | None]) -> None:
    producer = KafkaProducer(**client_config(settings, ADMIN), acks="all")
    for value in values:
        producer.send(topic, key=b"planted", value=value)
    producer.flush(timeout=30)
    producer.close()


@pytest.fixture(scope="module")
def filled(stack: HubSettings, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[HubSettings]:
    """Every topic written through the hub's own paths: a connector's backfill, `sanwang
    publish`, the push endpoint, the processor (changes, findings, its dead letters), and the
    relay sending some changes twice."""
    hub = hub_settings(stack)
    worker = spawn_worker(hub)
    try:
        tally = backfill_file(hub, "police", _police_export(tmp_path_factory.mktemp("export")),
                              progress=False)
        assert tally.published > 0 and tally.dead_lettered == {"column_count": 1}, tally.summary()
        for department in ("civil_affairs", "social_security"):
            report = publish_events(hub, department, [*_people_events(department), "no event"])
            assert report.accepted and len(report.rejected) == 1
        tokens = load_tokens(hub.home / "secrets" / f"push-{hub.topic_prefix}.json")
        publisher = open_publish_path(hub, "social_security")[1]
        with serving(create_push_app(tokens, {"social_security": publisher})) as url:
            answer = httpx.post(f"{url}/push/social-security", json=[{"serial": "S-BAD"}],
                                headers={"Authorization": f"Bearer {tokens['social_security']}"})
        publisher.close()
        assert answer.json()["rejected"] == 1, answer.text
        _write_as_admin(hub, raw_topic(hub.topic_prefix, "police"), [b"not an event", None])
        wait_for_processor(hub, timeout=300)
        all_relayed(hub)
        run_sql(dsn(hub), ("UPDATE hub.change_outbox SET sent_at = NULL WHERE seq IN"
                                    " (SELECT seq FROM hub.change_outbox ORDER BY seq LIMIT %s)",
                                    (RESENT,)))
        all_relayed(hub)
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    yield hub


def _topics(prefix: str) -> dict[str, str]:
    return {**{f"raw.{d}": raw_topic(prefix, d) for d in all_departments()},
            "changes": changes_topic(prefix), "findings": findings_topic(prefix),
            "deadletter": dead_letter_topic(prefix)}


def _read_as_admin(hub: HubSettings, name: str) -> list[Message]:
    topic = _topics(hub.topic_prefix)[name]
    count = message_count(hub, topic)
    messages = _consume(hub, ADMIN, topic, f"{hub.topic_prefix}-contracts-{name}", count)
    assert len(messages) == count > 0, (name, len(messages), count)
    return messages


@pytest.mark.parametrize("name", ["raw.police", "raw.civil_affairs", "raw.social_security",
                                  "changes", "findings", "deadletter"])
def test_every_message_is_a_structured_cloudevent_valid_under_its_schema(
        filled: HubSettings, name: str) -> None:
    seen: dict[tuple[str, str], bytes] = {}
    for message in _read_as_admin(filled, name):
        if message.key() == b"planted":
            continue  # the processor's bait, written by the test: it is dead-lettered
        headers = dict(message.headers() or [])
        assert headers == STRUCTURED, (name, headers)
        event = from_kafka_event(KafkaMessage(headers, message.key(), message.value()))
        value = json.loads(message.value())
        assert {"id", "time", "subject", "dataschema"} <= value.keys(), value
        assert (event.get_id(), event.get_type(), event.get_source()) == (
            value["id"], value["type"], value["source"])
        assert event.get_data() == value["data"]
        check = validation_errors if name.startswith("raw.") else hub_event_errors
        assert check(value) == [], (name, value["id"], check(value))
        # at least once: a message seen again under the same (source, id) is the same message
        assert seen.setdefault((value["source"], value["id"]), message.value()) == message.value()


def test_changes_relayed_again_carry_the_same_ids(filled: HubSettings) -> None:
    changes = [json.loads(m.value()) for m in _read_as_admin(filled, "changes")]
    findings = [json.loads(m.value()) for m in _read_as_admin(filled, "findings")]
    relayed = changes + findings
    entries = query(filled, "SELECT seq, resident_id, change FROM hub.change_outbox")
    assert len(relayed) == len(entries) + RESENT
    assert {e["id"] for e in relayed} == {str(seq) for seq, _, _ in entries}
    assert {(e["id"], e["subject"], e["type"]) for e in relayed} == {
        (str(seq), resident, f"hub.resident.{change}") for seq, resident, change in entries}
    assert {f["data"]["kind"] for f in findings} >= {"deceased_with_active_pension",
                                                     "cremated_not_deregistered"}


def test_every_part_writes_dead_letters_of_one_shape(filled: HubSettings) -> None:
    letters = [json.loads(m.value()) for m in _read_as_admin(filled, "deadletter")]
    by_writer = {(e["source"], e["data"]["reason"]) for e in letters}
    assert by_writer == {("/departments/police", "column_count"),
                         ("/departments/civil_affairs", "publish"),
                         ("/departments/social_security", "publish"),
                         ("/departments/social_security", "push"),
                         ("/hub/processor", "not_canonical")}
    planted = [e["data"] for e in letters if e["source"] == "/hub/processor"]
    assert sorted(d["raw_size"] for d in planted) == [0, len(b"not an event")]
    assert {d["department"] for d in planted} == {"police"}


def test_a_department_reads_the_change_feed_and_nothing_it_may_not(filled: HubSettings) -> None:
    prefix = filled.topic_prefix
    feed = changes_topic(prefix)
    count = message_count(filled, feed)
    read = _consume(filled, "police", feed, f"{prefix}-police-contracts", count)
    assert len(read) == count and all(
        json.loads(m.value())["subject"].encode() == m.key() for m in read)
    refusals = [
        ("police", raw_topic(prefix, "civil_affairs"), f"{prefix}-police-x",
         KafkaError.TOPIC_AUTHORIZATION_FAILED),
        ("police", findings_topic(prefix), f"{prefix}-police-x",
         KafkaError.TOPIC_AUTHORIZATION_FAILED),
        ("police", dead_letter_topic(prefix), f"{prefix}-police-x",
         KafkaError.TOPIC_AUTHORIZATION_FAILED),
        ("police", feed, f"{prefix}-civil_affairs-feed", KafkaError.GROUP_AUTHORIZATION_FAILED),
    ]
    for principal, topic, group, code in refusals:
        with pytest.raises(KafkaException) as refused:
            _consume(filled, principal, topic, group, 1, timeout=30)
        assert refused.value.args[0].code() == code, (topic, group, refused.value)


def test_a_department_may_not_write_another_ones_raw_topic(filled: HubSettings) -> None:
    failures: list[KafkaError] = []
    producer = Producer(_librdkafka(filled, "police", **{"message.timeout.ms": 15000}))
    producer.produce(raw_topic(filled.topic_prefix, "civil_affairs"), b"probe",
                     on_delivery=lambda error, _message: failures.append(error))
    producer.flush(30)
    assert [f.code() for f in failures] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]


def test_a_wrong_password_is_refused_at_the_handshake(filled: HubSettings) -> None:
    errors: list[KafkaError] = []
    consumer = Consumer({**_librdkafka(filled, "police"), "sasl.password": "not-the-password",
                         "group.id": f"{filled.topic_prefix}-police-x",
                         "error_cb": errors.append})
    try:
        deadline = time.monotonic() + 30
        consumer.subscribe([changes_topic(filled.topic_prefix)])
        while not errors and time.monotonic() < deadline:
            assert consumer.poll(0.5) is None
    finally:
        consumer.close()
    assert errors and errors[0].code() == KafkaError._AUTHENTICATION, errors
