"""Read a topic back to its end, for assertions."""

from __future__ import annotations

import json
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from deploy.kafka_auth import ADMIN, client_config
from deploy.settings import HubSettings
from schemas.events import KAFKA_HEADERS


def read_topic(settings: HubSettings, topic: str) -> list[dict[str, Any]]:
    """Every message's JSON value currently in `topic`, all partitions, oldest first; each
    message must be a structured-mode CloudEvent (its one header the content-type)."""
    consumer = KafkaConsumer(**client_config(settings, ADMIN),
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    assert list(record.headers) == KAFKA_HEADERS, (topic, record.headers)
                    values.append(json.loads(record.value))
        return values
    finally:
        consumer.close()


def read_data(settings: HubSettings, topic: str) -> list[dict[str, Any]]:
    """The `data` of every event in `topic` (a dead letter's reason, a change's resident...)."""
    return [event["data"] for event in read_topic(settings, topic)]


def message_count(settings: HubSettings, topic: str) -> int:
    """How many messages `topic` holds (its partitions' end offsets; nothing is deleted)."""
    consumer = KafkaConsumer(**client_config(settings, ADMIN))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()
