"""Create the hub's topics on the broker (the broker itself never auto-creates one)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from deploy.kafka_auth import ADMIN, client_config
from deploy.settings import HubSettings


def ensure_topics(settings: HubSettings, names: Iterable[str]) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Safe to repeat."""
    admin = KafkaAdminClient(**client_config(settings, ADMIN), client_id="sanwang-admin")
    try:
        missing = sorted(set(names) - set(admin.list_topics()))
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, settings.topic_partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:  # another process won the race
                pass
        return created
    finally:
        admin.close()
