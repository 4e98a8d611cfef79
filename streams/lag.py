"""How far the processor's consumer group is behind the raw topics; waiting until it is not."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from deploy.errors import ServiceError
from deploy.kafka_auth import PROCESSOR, client_config
from deploy.metrics_targets import PROCESSOR as PROCESSOR_JOB
from deploy.metrics_targets import live_targets
from deploy.settings import HubSettings
from schemas.topics import processor_group, raw_topics


class LagProbe:
    """Reads end offsets and the processor group's committed offsets over one pair of clients."""

    def __init__(self, settings: HubSettings) -> None:
        self._group = processor_group(settings.topic_prefix)
        self._topics = raw_topics(settings.topic_prefix)
        # the processor's principal: it may describe its own group and the raw topics
        self._admin = KafkaAdminClient(**client_config(settings, PROCESSOR),
                                       client_id="sanwang-lag")
        self._consumer = KafkaConsumer(**client_config(settings, PROCESSOR),
                                       client_id="sanwang-lag", enable_auto_commit=False)

    def lag(self) -> dict[TopicPartition, int]:
        """Per partition of every raw topic: end offset minus the committed offset."""
        existing = set(self._admin.list_topics())
        partitions = [TopicPartition(topic, p) for topic in self._topics if topic in existing
                      for p in sorted(self._consumer.partitions_for_topic(topic) or ())]
        ends = self._consumer.end_offsets(partitions)
        committed = self._admin.list_group_offsets(self._group).get(self._group, {})
        return {tp: ends[tp] - (committed[tp].offset if tp in committed else 0)
                for tp in partitions}

    def members(self) -> int:
        """How many workers are in the processor's consumer group now."""
        return len(self._admin.describe_groups([self._group])[self._group]["members"])

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()


def wait_for_processor(settings: HubSettings, timeout: float,
                       on_lag: Callable[[int], None] = lambda lag: None,
                       require_processor: bool = False) -> None:
    """Return once every event published so far is stored (lag 0); TimeoutError otherwise.

    `on_lag` hears the total lag of each poll (-1 while the broker cannot tell it yet). With
    `require_processor`, events waiting while no worker is in the consumer group (nor starting
    on this machine) raise ServiceError at once: nothing would store them.
    """
    deadline = time.monotonic() + timeout
    probe = LagProbe(settings)
    try:
        while True:
            lag: dict[TopicPartition, int] | None = None
            members: int | None = None  # None: not asked, or not known yet
            try:
                lag = probe.lag()
                members = probe.members() if require_processor else None
            except KafkaError as error:  # retriable: e.g. the group coordinator is being elected
                if not error.retriable:
                    raise
            total = -1 if lag is None else sum(lag.values())
            on_lag(total)
            if total == 0:
                return
            if total > 0 and members == 0 and not live_targets(settings, PROCESSOR_JOB):
                group = processor_group(settings.topic_prefix)
                raise ServiceError(f"no processor is in consumer group {group!r} and {total} "
                                   "events wait: start `sanwang process`")
            if time.monotonic() >= deadline:
                behind = ", ".join(f"{tp.topic}[{tp.partition}]={n}"
                                   for tp, n in (lag or {}).items() if n)
                state = ("unable to read its lag" if lag is None
                         else f"still {total} events behind ({behind})")
                raise TimeoutError(f"after {timeout:.0f} s the processor is {state}; "
                                   "is `sanwang process` running?")
            time.sleep(0.5)
    finally:
        probe.close()
