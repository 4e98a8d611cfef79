"""The compiled partitioner sends every key where Kafka's default partitioner does."""

from aiokafka.partitioner import DefaultPartitioner as AiokafkaPartitioner
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner import DefaultPartitioner
from kafka.partitioner.default import murmur2

from connectors.partitioner import CompiledMurmur2Partitioner, compiled_murmur2


class _Cluster:
    """What a partitioner reads of the producer's metadata: one topic's partitions."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions if topic == "t" else None

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


@given(st.binary(max_size=80), st.sets(st.integers(0, 200), min_size=1, max_size=40))
def test_a_key_lands_where_the_default_partitioner_puts_it(key: bytes, partitions: set[int]
                                                           ) -> None:
    cluster = _Cluster(partitions)
    expected = DefaultPartitioner().partition("t", key, key, b"v", b"v", cluster)
    assert CompiledMurmur2Partitioner().partition("t", key, key, b"v", b"v", cluster) == expected


def test_the_keys_the_connectors_send_spread_as_java_clients_would() -> None:
    """Hub keys (32 hex characters) and the sign bit: the hash is Java's murmur2 exactly."""
    cluster = _Cluster(set(range(6)))
    keys = [b"%032x" % (i * 0x9E3779B97F4A7C15 % (1 << 128)) for i in range(2000)]
    assert {murmur2(k) & 0x7FFFFFFF >= 1 << 30 for k in keys} == {True, False}
    for key in keys:
        assert (CompiledMurmur2Partitioner().partition("t", key, key, None, None, cluster)
                == sorted(cluster.partitions)[(murmur2(key) & 0x7FFFFFFF) % 6])


def test_a_keyless_message_is_left_to_the_default_partitioner() -> None:
    cluster = _Cluster({3})
    assert CompiledMurmur2Partitioner().partition("t", None, None, b"v", b"v", cluster) == 3


@given(st.binary(max_size=80), st.sets(st.integers(0, 200), min_size=1, max_size=40))
def test_the_processors_producer_puts_a_key_where_aiokafka_would(key: bytes, partitions: set[int]
                                                                ) -> None:
    ordered = sorted(partitions)
    assert (compiled_murmur2(key, ordered, ordered)
            == AiokafkaPartitioner()(key, ordered, ordered)
            == DefaultPartitioner().partition("t", key, key, b"v", b"v", _Cluster(partitions)))


def test_the_processors_keyless_messages_are_left_to_aiokafka() -> None:
    assert compiled_murmur2(None, [0, 1, 2], [2]) == 2
