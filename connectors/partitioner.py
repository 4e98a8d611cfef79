"""Kafka's default partitioner with its hash compiled: a message's partition is the one Java's,
kafka-python's and aiokafka's clients choose, murmur2 of the key."""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import DefaultPartitioner as AiokafkaPartitioner
from kafka.partitioner import DefaultPartitioner
from murmurhash2 import murmurhash2

SEED = 0x9747B28C  # org.apache.kafka.common.utils.Utils.murmur2's


class CompiledMurmur2Partitioner(DefaultPartitioner):
    """The default partitioner's choice for a key; keyless messages are left to it.

    kafka-python's murmur2 is pure Python and was 13 to 14 µs of a connector's ~135 µs per
    record. Each connector publishes under the same key every department and consumer agrees
    on, so the partition must stay the one Kafka's own clients compute: murmurhash2 with
    Kafka's seed is that hash (tests/unit/test_partitioner.py holds them to each other).
    """

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        if serialized_key is None:
            return super().partition(topic, key, serialized_key, value, serialized_value,
                                     cluster)
        partitions = cluster.partitions_for_topic(topic)
        if partitions is None:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        ordered = sorted(partitions)
        return ordered[(murmurhash2(serialized_key, SEED) & 0x7FFFFFFF) % len(ordered)]


def compiled_murmur2(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner, as the processor's producer takes it (faust's
    `producer_partitioner`), with the compiled hash: aiokafka's murmur2 is pure Python too, 13 %
    of a change-feed send. `all_partitions` is indexed as aiokafka's own partitioner indexes it,
    so a key goes where aiokafka would send it."""
    if key is None:
        return AiokafkaPartitioner()(key, all_partitions, available)
    return all_partitions[(murmurhash2(key, SEED) & 0x7FFFFFFF) % len(all_partitions)]
