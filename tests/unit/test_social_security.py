"""Social security's JSON lines and pushes become events; damage and bad fields are named."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.csv_source import MAX_LINE_BYTES
from connectors.jsonl_source import PushBodyError, parse_push_body, read_jsonl
from connectors.records import MappingError
from schemas.departments import department
from schemas.events import canonical_json
from schemas.registry import validation_errors
from tests.samples import SAMPLE, header, mapping

EVENT_TYPE, FIELDS = department("social_security").event_type, header("social_security")
social_security_event = mapping("social_security")

SAMPLE_FILE = SAMPLE / "social_security.jsonl"
ORIGIN = {"file": "x.jsonl", "line": 1}


def _obj(**overrides: Any) -> dict[str, Any]:
    obj = {"serial": "RS2013020100000115", "event": "pension.started", "aac001": "3644287227",
           "aac002": "51182719580116138x", "aac003": "吕晨然", "aac004": "2",
           "aac006": "19580116", "address": None, "phone": "13552093032",
           "occurred": "2013-02-01T11:38:00+08:00", "payload": {"月养老金": 2813}}
    return {**obj, **overrides}


def _sample_line_count() -> int:
    return sum(1 for line in SAMPLE_FILE.read_bytes().splitlines() if line.strip())


def test_every_sample_line_maps() -> None:
    records = list(read_jsonl(SAMPLE_FILE))
    assert len(records) == _sample_line_count() == 283
    assert all(r.columns is not None for r in records)
    events = [social_security_event(r.columns, r.origin) for r in records]
    assert len({e["id"] for e in events}) == len(records)
    assert {e["type"] for e in events} == {EVENT_TYPE}
    assert {e["data"]["parsed"]["event"] for e in events} == {
        "insurance.enrolled", "employment.registered", "pension.started", "pension.stopped"}
    assert {e["data"]["parsed"]["sex"] for e in events} == {"M", "F"}
    assert all(set(FIELDS) <= set(e["data"]["raw"]) for e in events)
    assert [error for e in events for error in validation_errors(e)] == []


def test_ids_are_stable_across_reads_and_the_same_pushed() -> None:
    first = [social_security_event(r.columns, r.origin)["id"] for r in read_jsonl(SAMPLE_FILE)]
    again = [social_security_event(r.columns, r.origin)["id"] for r in read_jsonl(SAMPLE_FILE)]
    assert first == again
    lines = [line for line in SAMPLE_FILE.read_bytes().splitlines() if line.strip()]
    pushed = parse_push_body(b"[" + b",".join(lines) + b"]")
    assert all(isinstance(o, dict) for o in pushed)
    assert [social_security_event(o, {"push": "http"})["id"] for o in pushed] == first


def test_raw_is_the_object_as_received_beside_the_parsed_values() -> None:
    obj = _obj(extra={"nested": [1, 2]}, aac004="女", aac006="1958-01-16")
    event = social_security_event(obj, ORIGIN)
    data = event["data"]
    assert data["raw"] == obj
    assert data["origin"] == ORIGIN
    assert event["subject"] == "RS2013020100000115"
    assert event["time"] == "2013-02-01T11:38:00+08:00"
    assert data["parsed"] == {
        "record_id": "RS2013020100000115", "event": "pension.started",
        "person_key": "3644287227",
        "id_number": {"original": "51182719580116138x", "normalized": "51182719580116138X"},
        "name": "吕晨然", "sex": "F", "birth_date": "1958-01-16", "address": None,
        "phone": "13552093032", "occurred": "2013-02-01T11:38:00+08:00",
        "payload": {"月养老金": 2813}}


def test_occurred_is_normalised_and_nulls_are_allowed_where_the_contract_says() -> None:
    event = social_security_event(_obj(occurred="2013-02-01T03:38:00Z", payload=None,
                                       phone=None, aac002=None), ORIGIN)
    assert event["time"] == event["data"]["parsed"]["occurred"] == "2013-02-01T03:38:00+00:00"
    assert event["data"]["parsed"]["payload"] is None
    assert event["data"]["parsed"]["id_number"] is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("serial", None, "serial: missing"),
    ("serial", "  ", "serial: missing"),
    ("serial", 126, "serial: expected text, got int 126"),
    ("serial", "RS" * 33, "serial: longer than 64 characters"),
    ("event", "pension.paused", "event: unknown event 'pension.paused'"),
    ("event", None, "event: missing"),
    ("aac001", 3644287227, "aac001: expected text, got int"),
    ("aac001", "", "aac001: missing"),
    ("aac002", 51182719580116138, "aac002: expected text"),
    ("aac003", ["吕晨然"], "aac003: expected text"),
    ("aac004", "3", "aac004: unknown sex '3'"),
    ("aac004", 1, "aac004: expected text"),
    ("aac006", "19561332", "aac006: impossible date '19561332'"),
    ("aac006", "16/01/1958", "aac006: unrecognised date format"),
    ("address", {"street": "x"}, "address: expected text"),
    ("phone", "1355209303", "phone: mobile number does not have 11 digits"),
    ("occurred", "2013-02-01T11:38:00", "occurred: timestamp without UTC offset"),
    ("occurred", "yesterday", "occurred: not an ISO 8601 timestamp"),
    ("occurred", None, "occurred: missing"),
    ("occurred", "2013-02-01T11:38:00+08:00:30", "occurred: UTC offset not in whole minutes"),
    ("payload", [1], "payload: expected a JSON object or null"),
    ("payload", "险种", "payload: expected a JSON object or null"),
    ("payload", {"原因": "\ud800"}, "payload: cannot be stored as JSON"),
])
def test_a_bad_field_is_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(MappingError, match=f"^{message}"):
        social_security_event(_obj(**{field: value}), ORIGIN)


def test_a_missing_key_is_named() -> None:
    obj = _obj()
    del obj["aac001"]
    with pytest.raises(MappingError, match="^aac001: missing"):
        social_security_event(obj, ORIGIN)


def _write(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "f.jsonl"
    path.write_bytes(body)
    return path


GOOD = json.dumps(_obj(), ensure_ascii=False).encode() + b"\n"


@pytest.mark.parametrize(("line", "reason", "error"), [
    ('{"serial": "张三"}\n'.encode("gb18030"), "encoding", "not utf-8"),
    (b'{"serial": "RS1",\n', "json", "enclosed in double quotes (line 3, column 18)"),
    (b'{"serial": "RS1"} x\n', "json", "Extra data (line 3, column 19)"),
    (b'{"serial": "RS1", "serial": "RS2"}\n', "json", "duplicate key 'serial'"),
    (b'{"payload": {"x": NaN}}\n', "json", "NaN is not JSON"),
    (b"[" * 100_000 + b"\n", "json", "nested too deeply"),
    (b"1" * 5000 + b"\n", "json", "unparseable JSON"),
    (b"[" + GOOD.strip() + b"]\n", "not_object", "a JSON array, not an object"),
    (b'"RS1"\n', "not_object", "a JSON string"),
    (b"null\n", "not_object", "a JSON null"),
    (b'{"x": "' + b"y" * MAX_LINE_BYTES + b'"}\n', "oversized", "exceeds"),
])
def test_a_damaged_line_becomes_an_error_record(tmp_path: Path, line: bytes, reason: str,
                                                error: str) -> None:
    path = _write(tmp_path, GOOD + b"\n" + line + GOOD)
    records = list(read_jsonl(path))
    assert [r.reason for r in records] == ["", reason, ""]
    assert [r.origin["line"] for r in records] == [1, 3, 4]
    bad = records[1]
    assert bad.columns is None and error in bad.error
    assert bad.origin == {"file": "f.jsonl", "line": 3}
    assert bad.raw_bytes.startswith(line[:100]) and len(bad.raw_bytes) <= MAX_LINE_BYTES
    assert records[2].columns == _obj()


def test_an_oversized_last_line_without_newline(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + b"x" * (3 * MAX_LINE_BYTES))
    records = list(read_jsonl(path))
    assert [r.reason for r in records] == ["", "oversized"]
    assert records[1].error == f"line of {3 * MAX_LINE_BYTES} bytes exceeds {MAX_LINE_BYTES}"
    assert records[1].position == path.stat().st_size


def test_a_line_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    obj = _obj(extra="")
    line = json.dumps(obj).encode()
    obj["extra"] = "y" * (MAX_LINE_BYTES - len(line) - 1)
    path = _write(tmp_path, json.dumps(obj).encode() + b"\n")
    assert path.stat().st_size == MAX_LINE_BYTES
    assert [r.columns for r in read_jsonl(path)] == [obj]


def test_a_bom_on_the_first_line_and_crlf_are_tolerated(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n") + b"\r\n" + GOOD)
    records = list(read_jsonl(path))
    assert [r.columns for r in records] == [_obj(), _obj()]
    assert [r.origin["line"] for r in records] == [1, 3]


def test_reading_resumes_at_a_position_it_yielded(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + b"\n" + b"[]\n" + GOOD + b"\n\n" + GOOD)
    records = list(read_jsonl(path))
    assert [r.origin["line"] for r in records] == [1, 3, 4, 7]
    for i, record in enumerate(records):
        assert list(read_jsonl(path, start=record.position)) == records[i + 1:]
    assert list(read_jsonl(path, start=path.stat().st_size + 10)) == []


def test_resuming_the_sample_gives_exactly_the_rest() -> None:
    records = list(read_jsonl(SAMPLE_FILE))
    assert list(read_jsonl(SAMPLE_FILE, start=records[99].position)) == records[100:]


def test_a_pushed_single_object() -> None:
    assert parse_push_body(GOOD) == [_obj()]
    assert parse_push_body(b"\xef\xbb\xbf" + GOOD) == [_obj()]


def test_a_pushed_array_of_good_and_bad_items() -> None:
    body = b"[" + GOOD.strip() + b', 3, "x", null, [], {}]'
    assert parse_push_body(body) == [
        _obj(), "item 1: a JSON number, not an object", "item 2: a JSON string, not an object",
        "item 3: a JSON null, not an object", "item 4: a JSON array, not an object", {}]
    assert parse_push_body(b"[]") == []


@pytest.mark.parametrize(("body", "message"), [
    (b"", "unparseable JSON"),
    (b"serial=RS1", "unparseable JSON"),
    (b'{"serial": "RS1"', "unparseable JSON"),
    (b'[{"a": 1, "a": 2}]', "duplicate key 'a'"),
    ('{"aac003": "张三"}'.encode("gb18030"), "not utf-8"),
    (b'"RS1"', "a JSON string, not an object or an array"),
    (b"42", "a JSON number"),
])
def test_a_push_body_that_is_not_json_objects_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(PushBodyError, match=message):
        parse_push_body(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.text(st.characters(exclude_categories=()))  # lone surrogates, as "\ud800" decodes
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)
field_values = json_values | st.sampled_from([
    "", " ", "1", "男", "19561332", "1956-03-12", "2024-11-12T16:01:00+08:00", "2024-11-12",
    "2024-11-12T16:01:00", "2024-11-12T16:01:00.5-03:30", "2024-11-12T16:01:00+08:00:30",
    "R" * 65, "+8613552093032", "511827580116138", "pension.stopped"])


@given(changes=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), field_values,
                               max_size=5))
def test_mapping_raises_nothing_but_mapping_error(changes: dict[str, Any]) -> None:
    try:
        event = social_security_event(_obj(**changes), ORIGIN)
    except MappingError as error:
        str(error).encode()  # the message can always be dead-lettered
    else:  # the event can always be published
        assert validation_errors(json.loads(canonical_json(event))) == []


@given(obj=st.dictionaries(st.text(max_size=8), json_values, max_size=12))
def test_mapping_arbitrary_objects_raises_nothing_but_mapping_error(obj: dict[str, Any]) -> None:
    try:
        social_security_event(obj, ORIGIN)
    except MappingError:
        pass
