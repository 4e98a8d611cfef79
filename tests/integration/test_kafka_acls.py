"""The real broker refuses unauthenticated clients and every principal x topic outside its ACLs."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)

from deploy.kafka_acls import department_group_prefix
from deploy.kafka_auth import ADMIN, PROCESSOR, client_config
from deploy.settings import HubSettings
from schemas.departments import all_departments
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    processor_group,
    raw_topic,
)
from tests.integration.conftest import hub_settings

DEPARTMENTS = tuple(all_departments())
PRINCIPALS = (*DEPARTMENTS, PROCESSOR)
TOPICS = (*(f"raw.{d}" for d in DEPARTMENTS), "deadletter", "changes", "findings")
MARKER = b"acl-marker"


def _topic(settings: HubSettings, name: str) -> str:
    prefix = settings.topic_prefix
    if name.startswith("raw."):
        return raw_topic(prefix, name.removeprefix("raw."))
    return {"deadletter": dead_letter_topic(prefix), "changes": changes_topic(prefix),
            "findings": findings_topic(prefix)}[name]


def _allowed(principal: str, operation: str, name: str) -> bool:
    """The ACLs as the issue states them, written out independently of deploy/kafka_acls.py."""
    if principal == PROCESSOR:
        return name.startswith("raw.") if operation == "read" else not name.startswith("raw.")
    if operation == "write":
        return name in (f"raw.{principal}", "deadletter")
    return name == "changes"


@pytest.fixture(scope="module")
def acl_hub(stack: HubSettings) -> HubSettings:
    """One prefix for the whole matrix, a marker message in each topic (written as the admin)."""
    settings = hub_settings(stack)
    producer = KafkaProducer(**client_config(settings, ADMIN), acks="all")
    for name in TOPICS:
        producer.send(_topic(settings, name), value=MARKER, partition=0)
    producer.flush(timeout=30)
    producer.close()
    return settings


def _write(settings: HubSettings, principal: str, topic: str) -> None:
    producer = KafkaProducer(**client_config(settings, principal), acks="all",
                             enable_idempotence=True, max_block_ms=15000)
    try:
        producer.send(topic, value=b"probe").get(timeout=15)
    finally:
        producer.close(timeout=5)


def _read(settings: HubSettings, principal: str, topic: str, group: str | None = None
          ) -> list[bytes]:
    """The first records of partition 0 (with `group`: of the subscription), oldest first."""
    consumer = KafkaConsumer(**client_config(settings, principal), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        if group is None:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            consumer.end_offsets([partition])  # DESCRIBE: refused here without it
            consumer.seek_to_beginning(partition)
        else:
            consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            if batches:
                return [r.value for records in batches.values() for r in records]
        return []
    finally:
        consumer.close()


@pytest.mark.parametrize("name", TOPICS)
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_write_only_where_the_acls_allow(acl_hub: HubSettings, principal: str,
                                          name: str) -> None:
    topic = _topic(acl_hub, name)
    if _allowed(principal, "write", name):
        _write(acl_hub, principal, topic)
    else:
        with pytest.raises(TopicAuthorizationFailedError):
            _write(acl_hub, principal, topic)


@pytest.mark.parametrize("name", TOPICS)
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_read_only_where_the_acls_allow(acl_hub: HubSettings, principal: str,
                                         name: str) -> None:
    topic = _topic(acl_hub, name)
    if _allowed(principal, "read", name):
        assert _read(acl_hub, principal, topic)[0] == MARKER
    else:
        with pytest.raises(TopicAuthorizationFailedError):
            _read(acl_hub, principal, topic)


@pytest.mark.parametrize("owner", PRINCIPALS)
@pytest.mark.parametrize("principal", DEPARTMENTS)
def test_departments_read_the_change_feed_only_in_their_own_groups(
        acl_hub: HubSettings, principal: str, owner: str) -> None:
    prefix = acl_hub.topic_prefix
    group = (processor_group(prefix) if owner == PROCESSOR
             else f"{department_group_prefix(prefix, owner)}-feed")
    if owner == principal:
        assert MARKER in _read(acl_hub, principal, changes_topic(prefix), group)
    else:
        with pytest.raises(GroupAuthorizationFailedError):
            _read(acl_hub, principal, changes_topic(prefix), group)


def test_police_may_not_publish_civil_affairs_records(acl_hub: HubSettings) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _write(acl_hub, "police", raw_topic(acl_hub.topic_prefix, "civil_affairs"))


def test_unauthenticated_clients_are_refused(acl_hub: HubSettings) -> None:
    """Without SASL, or with a wrong password, no client gets past the handshake; the right
    password on the same address does."""
    quick = {"bootstrap_timeout_ms": 5000, "request_timeout_ms": 5000}
    plain = {"bootstrap_servers": acl_hub.bootstrap_servers}
    wrong = {**client_config(acl_hub, "police"), "sasl_plain_password": "not-the-password"}
    for config in (plain, wrong):
        with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
            KafkaAdminClient(**config, **quick).list_topics()
    right = KafkaAdminClient(**client_config(acl_hub, "police"), **quick)
    try:
        assert raw_topic(acl_hub.topic_prefix, "police") in right.list_topics()
    finally:
        right.close()
