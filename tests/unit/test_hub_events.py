"""The hub's own events (changes, findings, dead letters) and the raw events' `time`: CloudEvents
in structured mode, ids that repeat exactly when a message is sent again, valid under their
schemas, readable by the CloudEvents SDK's Kafka binding."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from schemas.events import KAFKA_HEADERS, canonical_json, make_event, with_time
from schemas.hub_events import (
    MAX_DEAD_LETTER_RAW,
    DeadLetter,
    OutboxEntry,
    change_event,
    dead_letter_event,
    dead_letter_id,
)
from schemas.registry import hub_event_errors, validation_errors

BEIJING = timezone(timedelta(hours=8))
STORED = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=BEIJING)
VALID_ID = "110101199003070011"  # check character computed by stdnum; synthetic


def _entry(change: str, payload: dict, seq: int = 41) -> OutboxEntry:
    return OutboxEntry(seq, "R00012", change, payload, STORED)


def _letter(**changes) -> DeadLetter:
    fields = {"source": "/departments/police", "department": "police", "reason": "mapping",
              "error": f"公民身份号码: {VALID_ID} is taken", "origin": {"file": "a.csv", "line": 7},
              "raw": "姓名,张三\n".encode("gb18030")}
    return DeadLetter(**{**fields, **changes})


def _through_the_binding(event: dict, key: bytes = b"R00012"):
    """What a subscriber's CloudEvents SDK makes of the message the hub sends."""
    return from_kafka_event(KafkaMessage(headers=dict(KAFKA_HEADERS), key=key,
                                         value=canonical_json(event)))


@pytest.mark.parametrize(("change", "payload"), [
    ("created", {"records": ["police:GA1"], "absorbed": []}),
    ("updated", {"records": ["police:GA1", "social_security:S9"], "absorbed": []}),
    ("merged", {"records": ["police:GA1", "civil_affairs:M3"], "absorbed": ["R00013"]}),
    ("split", {"records": ["police:GA1"], "absorbed": []}),
    ("removed", {"merged_into": ["R00012"]}),
])
def test_a_change_is_a_cloudevent_of_its_kind_with_the_outbox_seq_as_id(
        change: str, payload: dict) -> None:
    event = change_event(_entry(change, payload))
    assert (event["id"], event["type"], event["source"], event["subject"]) == (
        "41", f"hub.resident.{change}", "/hub/residents", "R00012")
    assert event["time"] == "2025-03-01T01:30:15.123456Z"  # when the store took it, in UTC
    assert event["data"] == {"resident_id": "R00012", "change": change, **payload}
    assert event["dataschema"] == "urn:sanwang:schema:resident_change:v1"
    assert hub_event_errors(event) == []


def test_a_finding_goes_to_its_own_source_and_schema() -> None:
    event = change_event(_entry("finding", {"kind": "deceased_with_active_pension",
                                            "since": "2024-05-02", "records": ["police:GA1"]}))
    assert (event["type"], event["source"], event["dataschema"]) == (
        "hub.resident.finding", "/hub/findings", "urn:sanwang:schema:finding:v1")
    assert hub_event_errors(event) == []


def test_an_outbox_entry_sent_again_is_the_same_message() -> None:
    payload = {"records": ["police:GA1"], "absorbed": []}
    first = canonical_json(change_event(_entry("created", payload)))
    assert canonical_json(change_event(_entry("created", dict(payload)))) == first
    assert canonical_json(change_event(_entry("created", payload, seq=42))) != first


def test_the_change_schemas_refuse_what_they_do_not_describe() -> None:
    event = change_event(_entry("created", {"records": [], "absorbed": []}))
    assert hub_event_errors({**event, "data": {**event["data"], "change": "renamed"}})
    assert hub_event_errors({k: v for k, v in event.items() if k != "time"})
    finding = change_event(_entry("finding", {"kind": "x", "since": "2024"}))
    assert hub_event_errors(finding) == ["data: must contain ['records'] properties"]


def test_a_dead_letter_masks_id_numbers_and_keeps_the_raw_bytes() -> None:
    letter = _letter()
    event = dead_letter_event(letter, datetime(2025, 3, 1, tzinfo=UTC))
    data = event["data"]
    assert VALID_ID not in canonical_json(event).decode()
    assert data["error"] == "公民身份号码: 110101********0011 is taken"
    assert base64.b64decode(data["raw_base64"]) == letter.raw
    assert (data["raw_size"], data["department"], data["reason"], data["origin"]) == (
        len(letter.raw), "police", "mapping", {"file": "a.csv", "line": 7})
    assert (event["type"], event["source"], event["subject"], event["time"]) == (
        "hub.record.dead_lettered", "/departments/police", "police", "2025-03-01T00:00:00Z")
    assert hub_event_errors(event) == []


def test_a_huge_record_is_dead_lettered_capped_with_its_full_size() -> None:
    raw = b"x" * (MAX_DEAD_LETTER_RAW + 10)
    data = dead_letter_event(_letter(raw=raw), datetime.now(UTC))["data"]
    assert data["raw_size"] == len(raw)
    assert base64.b64decode(data["raw_base64"]) == raw[:MAX_DEAD_LETTER_RAW]


def test_the_same_refusal_has_the_same_id_and_another_one_another() -> None:
    letter = _letter()
    assert dead_letter_id(_letter()) == dead_letter_id(letter)
    others = [_letter(raw=b"other"), _letter(reason="schema"), _letter(origin={"line": 8}),
              _letter(source="/hub/processor")]
    assert len({dead_letter_id(o) for o in others} | {dead_letter_id(letter)}) == 5


def test_a_raw_event_gets_a_time_unless_the_department_gave_one() -> None:
    event = make_event(department="police", event_type="hub.police.population_change",
                       record_id="GA1", raw={"k": "v"}, parsed={}, origin={"line": 2})
    stamped = with_time(event, datetime(2025, 3, 1, 8, tzinfo=BEIJING))
    assert stamped["time"] == "2025-03-01T00:00:00Z" and "time" not in event
    assert stamped["id"] == event["id"]
    given = {**event, "time": "2013-02-01T11:38:00+08:00"}
    assert with_time(given, datetime.now(UTC)) is given
    assert validation_errors({**stamped, "time": "yesterday"}) == [
        "event.time: must be date-time"]


@pytest.mark.parametrize("event", [
    change_event(_entry("merged", {"records": ["police:GA1"], "absorbed": ["R2"]})),
    change_event(_entry("finding", {"kind": "dibao_with_employment", "since": "2024-01-02",
                                    "records": ["civil_affairs:M3"]})),
    dead_letter_event(_letter(), datetime.now(UTC)),
    with_time(make_event(department="police", event_type="hub.police.population_change",
                         record_id="GA1", raw={"k": "v"}, parsed={}, origin={}),
              datetime.now(UTC)),
], ids=["change", "finding", "dead_letter", "raw"])
def test_the_sdk_reads_each_message_in_structured_mode(event: dict) -> None:
    assert not any(name.startswith("ce_") for name, _ in KAFKA_HEADERS)  # else: binary mode
    read = _through_the_binding(event)
    assert (read.get_id(), read.get_type(), read.get_source(), read.get_subject()) == (
        event["id"], event["type"], event["source"], event["subject"])
    assert read.get_time() == datetime.fromisoformat(event["time"])
    assert read.get_data() == event["data"]
    assert read.get_extension("partitionkey") == "R00012"  # the Kafka key, as the SDK maps it
