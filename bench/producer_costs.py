"""What kafka-python's send costs per message, by message and producer setting.

Run by hand, never by CI:

    .venv/bin/python bench/producer_costs.py [--messages N] [--rounds R]

Starts a private stack and sends N messages per variant, R rounds, the variants alternating in
each round: the police sample's raw lines, then its events as the hub publishes them (canonical
JSON, the hub's key), with the structured-mode header, with a success callback per message as
the publisher adds, and compressed (lz4, zstd: when their libraries are installed). Every variant
has the publisher's settings otherwise (acks=all, idempotence, linger 20 ms, 256 KiB batches).
Last, the same events through confluent-kafka (librdkafka, a test dependency) for comparison.
It prints records/s and this process's CPU per message (main and sender thread): the floor under
the hub's publish path, whatever the mapping costs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from harness import CHECKOUT, machine, private_stack
from kafka import KafkaProducer

from connectors.file_backfill import source_for
from connectors.publisher import partition_key
from deploy.kafka_auth import ADMIN, client_config
from deploy.settings import HubSettings
from deploy.topics import ensure_topics
from schemas.events import KAFKA_HEADERS, canonical_json, with_time

SAMPLE = CHECKOUT / "tests" / "fixtures" / "sample5" / "police_population.csv"


def messages() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Keys, raw lines and events of the police sample, as the hub would send them."""
    read_from, to_event, _, _ = source_for("police", SAMPLE)
    records = list(read_from(0))
    events = [with_time(to_event(r.columns, r.origin), datetime.now(UTC)) for r in records]
    return ([partition_key(e) for e in events], [r.raw_bytes.rstrip(b"\r\n") for r in records],
            [canonical_json(e) for e in events])


def variants() -> dict[str, dict]:
    found = {"raw line": {"values": "raw"}, "event": {"values": "event"},
             "event + header": {"values": "event", "headers": KAFKA_HEADERS},
             "event + header + callback": {"values": "event", "headers": KAFKA_HEADERS,
                                           "callback": True}}
    for codec, module in (("lz4", "lz4"), ("zstd", "zstandard")):
        try:
            __import__(module)
        except ImportError:
            continue
        found[f"event + header + callback, {codec}"] = {
            "values": "event", "headers": KAFKA_HEADERS, "callback": True, "compression": codec}
    return found


def send_all(settings: HubSettings, count: int, keys: list[bytes], values: list[bytes],
             headers: list | None, callback: bool, compression: str | None) -> tuple[float, float]:
    """(records/s, CPU µs per message) of one producer sending `count` messages."""
    topic = f"cost{uuid.uuid4().hex[:10]}"
    ensure_topics(settings, [topic])
    failures: list[Exception] = []
    acknowledged: Callable[[object], None] = lambda _metadata: None  # noqa: E731
    start, cpu = time.perf_counter(), time.process_time()
    producer = KafkaProducer(**client_config(settings, ADMIN), acks="all",
                             enable_idempotence=True, linger_ms=20, batch_size=256 * 1024,
                             compression_type=compression)
    for n in range(count):
        future = producer.send(topic, key=keys[n % len(keys)], value=values[n % len(values)],
                               headers=headers)
        if callback:
            future.add_callback(acknowledged)
        future.add_errback(failures.append)
    producer.flush(timeout=60)
    producer.close(timeout=30)
    if failures:
        raise SystemExit(f"{len(failures)} sends failed, first: {failures[0]!r}")
    return count / (time.perf_counter() - start), (time.process_time() - cpu) / count * 1e6


def send_all_librdkafka(settings: HubSettings, count: int, keys: list[bytes],
                        values: list[bytes]) -> tuple[float, float]:
    """The same with confluent-kafka (librdkafka, C): the event, header and a callback, keys
    partitioned as kafka-python and Java clients do (murmur2)."""
    from confluent_kafka import Producer

    topic = f"cost{uuid.uuid4().hex[:10]}"
    ensure_topics(settings, [topic])
    given = client_config(settings, ADMIN)
    failures: list[object] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(error)

    start, cpu = time.perf_counter(), time.process_time()
    producer = Producer({
        "bootstrap.servers": given["bootstrap_servers"], "acks": "all",
        "enable.idempotence": True, "linger.ms": 20, "partitioner": "murmur2_random",
        **({"security.protocol": given["security_protocol"],
            "sasl.mechanism": given["sasl_mechanism"],
            "sasl.username": given["sasl_plain_username"],
            "sasl.password": given["sasl_plain_password"]} if "sasl_mechanism" in given else {})})
    for n in range(count):
        while True:
            try:
                producer.produce(topic, value=values[n % len(values)], key=keys[n % len(keys)],
                                 headers=KAFKA_HEADERS, on_delivery=delivered)
                break
            except BufferError:  # its queue is full: serve delivery reports, then again
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    if failures:
        raise SystemExit(f"{len(failures)} sends failed, first: {failures[0]!r}")
    return count / (time.perf_counter() - start), (time.process_time() - cpu) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description="kafka-python's cost per message")
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    keys, raw, events = messages()
    print(f"police sample: raw lines {sum(map(len, raw)) // len(raw)} B, events "
          f"{sum(map(len, events)) // len(events)} B on average")
    results: dict[str, list[tuple[float, float]]] = {}
    home = Path(tempfile.mkdtemp(prefix="sanwang-bench-stack-"))
    with private_stack(home) as settings:
        for _ in range(args.rounds):
            for name, v in variants().items():
                results.setdefault(name, []).append(send_all(
                    settings, args.messages, keys, raw if v["values"] == "raw" else events,
                    v.get("headers"), v.get("callback", False), v.get("compression")))
            results.setdefault("event + header + callback, confluent-kafka (librdkafka)",
                               []).append(send_all_librdkafka(settings, args.messages, keys,
                                                              events))
    shutil.rmtree(home, ignore_errors=True)
    print("| message | records/s | CPU µs per message |\n|---|---:|---:|")
    for name, runs in results.items():
        print(f"| {name} | {', '.join(f'{r:,.0f}' for r, _ in runs)} | "
              f"{', '.join(f'{c:.1f}' for _, c in runs)} |")
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
