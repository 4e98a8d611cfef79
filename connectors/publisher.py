"""The publish path every department shares: canonical events and dead letters to Kafka."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata

from connectors.fields import mask_id_numbers
from connectors.metrics import RECORDS_DEAD_LETTERED, RECORDS_PUBLISHED, RECORDS_READ
from connectors.partitioner import CompiledMurmur2Partitioner
from connectors.records import SourceRecord
from deploy.errors import BrokerError, InputError, Unreachable
from deploy.kafka_auth import client_config
from deploy.kafka_check import check_kafka
from deploy.settings import HubSettings
from schemas.events import KAFKA_HEADERS, canonical_json, with_time
from schemas.hub_events import DeadLetter, dead_letter_event
from schemas.registry import validation_errors
from schemas.topics import dead_letter_topic, raw_topic

# The broker refuses messages over 1 MiB, and a refused message aborts the producer's other
# batches too: nothing that large is ever sent.
MAX_MESSAGE_BYTES = 900 << 10


class InvalidEventError(InputError):
    """An event that breaks its schema; `errors` name each field and what is wrong."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = [mask_id_numbers(error) for error in errors]
        super().__init__("; ".join(self.errors))


class PublishError(BrokerError):
    """The broker did not acknowledge some events: the source's progress must not move on."""


def partition_key(event: dict[str, Any]) -> bytes:
    """The message key: records about one person should meet on one partition.

    A valid ID number is the only key all departments share, so it comes first: the merge of one
    person's records then happens on one worker, in order. Without one, the department's own
    person number (its declaration's `person_key` field) keeps a department's records of that
    person together; the record id is the last resort. Keys are hashed so that no ID number
    travels in clear in a Kafka key.
    """
    parsed = event["data"]["parsed"]
    id_number = (parsed.get("id_number") or {}).get("normalized")
    if id_number:
        basis = f"id:{id_number}"
    elif parsed.get("person_key"):
        basis = f"{event['source']}:person:{parsed['person_key']}"
    else:
        basis = f"{event['source']}:record:{event['subject']}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32].encode()


def nul_paths(value: Any, path: str = "event") -> list[str]:
    """Where NUL characters sit in a JSON value (keys or strings): PostgreSQL's text and jsonb
    refuse them, so such an event would stop the processor."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in (
            [f"{path}.{key!r}"] if "\x00" in key else nul_paths(item, f"{path}.{key}"))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nul_paths(item, f"{path}[{i}]")]
    return []


class EventPublisher:
    """A kafka-python producer with idempotence and acks=all.

    `publish` and `dead_letter` only queue; the counts are of what the broker acknowledged,
    and `flush` returns once everything queued is acknowledged (or raises the send error).
    """

    def __init__(self, settings: HubSettings, department: str) -> None:
        self.department = department
        self.topic = raw_topic(settings.topic_prefix, department)
        # where records go; a source's saved progress belongs to its destination
        self.destination = f"{settings.bootstrap_servers}/{self.topic}"
        self.dead_letters = dead_letter_topic(settings.topic_prefix)
        self.published = 0
        self.dead_lettered: dict[str, int] = {}
        self.records_read = RECORDS_READ.labels(department)  # its sources count what they read
        self._published_metric = RECORDS_PUBLISHED.labels(department)
        self._failures: list[Exception] = []
        # each department publishes as itself: refused or unreachable is said here, at once
        check_kafka(settings, department, writes=(self.topic, self.dead_letters))
        try:
            self._producer = KafkaProducer(
                **client_config(settings, department),
                client_id=f"sanwang-connector-{department}",
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                batch_size=256 * 1024,
                partitioner=CompiledMurmur2Partitioner(),
            )
        except KafkaError as error:
            raise Unreachable(f"Kafka at {settings.bootstrap_servers}: {error}") from None

    def publish(self, event: dict[str, Any]) -> FutureRecordMetadata:
        """Validate `event` against its schema (InvalidEventError) and queue it, with a `time`
        (schemas.events.with_time) and as a structured-mode CloudEvent."""
        event = with_time(event, datetime.now(UTC))
        errors = validation_errors(event)
        try:
            value = canonical_json(event)
        except ValueError as error:
            raise InvalidEventError([*errors, f"event: not JSON ({error})"]) from None
        if b"\\u0000" in value:
            errors += [f"{path}: NUL character (PostgreSQL cannot store it)"
                       for path in nul_paths(event)]
        if len(value) > MAX_MESSAGE_BYTES:
            errors.append(f"event: {len(value)} bytes, over the {MAX_MESSAGE_BYTES} allowed")
        if errors:
            raise InvalidEventError(errors)
        future = self._producer.send(self.topic, key=partition_key(event), value=value,
                                     headers=KAFKA_HEADERS)
        future.add_callback(self._on_published).add_errback(self._on_failed)
        return future

    def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        """The record as it came, with why and where from: nothing is ever silently dropped."""
        letter = DeadLetter(f"/departments/{self.department}", self.department, reason, error,
                            record.origin, record.raw_bytes)
        future = self._producer.send(
            self.dead_letters, key=self.department.encode(),
            value=canonical_json(dead_letter_event(letter, datetime.now(UTC))),
            headers=KAFKA_HEADERS)
        future.add_callback(lambda _meta: self._on_dead_lettered(reason))
        future.add_errback(self._on_failed)

    def _on_published(self, _metadata: object) -> None:
        self.published += 1
        self._published_metric.inc()

    def _on_dead_lettered(self, reason: str) -> None:
        self.dead_lettered[reason] = self.dead_lettered.get(reason, 0) + 1
        RECORDS_DEAD_LETTERED.labels(self.department, reason).inc()

    def _on_failed(self, error: Exception) -> None:
        self._failures.append(error)

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait for every queued send; raise if the broker refused any after all retries."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as error:  # not all acknowledged within the timeout
            self._failures.append(error)
        failures, self._failures = self._failures, []
        if failures:
            raise PublishError(f"Kafka at {self.destination.rpartition('/')[0]} did not "
                               f"acknowledge {len(failures)} of {self.department}'s sends "
                               f"(first: {failures[0]!r})")

    def close(self) -> None:
        self._producer.close(timeout=30)

