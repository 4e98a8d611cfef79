"""The canonical event envelope (CloudEvents 1.0, JSON) every department publishes through.

The id is deterministic: the same department record with the same content always gets the same
id, so a record sent twice (a re-run backfill, a connector restarted after a crash) is stored once,
while a record corrected in place gets a new id.

Every message the hub writes to Kafka, these events and its own (schemas/hub_events.py), is in
the CloudEvents Kafka binding's structured mode: the whole event is the value and the one header
is KAFKA_HEADERS' content-type. No `ce_*` header goes beside it: SDKs read a message with any
`ce_` header as binary mode, which these messages are not.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.registry import latest_dataschema

SPEC_VERSION = "1.0"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
KAFKA_HEADERS = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def canonical_json(value: Any) -> bytes:
    """One byte form per value: sorted keys, no spaces, UTF-8 (what ids are hashed over).

    Infinity and NaN (1e400 parses as infinity) raise ValueError: they are not JSON, and
    PostgreSQL would refuse the event. The bytes are json.dumps' (sort_keys, compact,
    ensure_ascii=False), as they have always been: orjson writes them (an event in a third of
    json's time, the check included) for the values on which its output is the same (text,
    integers, true, false, null, objects with text keys, arrays), json for the rest (floats,
    which the two spell differently, integers beyond 64 bits, lone surrogates, other types);
    tests/unit/test_canonical_json.py holds the two to the same bytes over arbitrary values.
    """
    if _orjson_spells_as_json(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate, an integer beyond 64 bits, depth
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def _orjson_spells_as_json(value: Any) -> bool:
    """Whether `value` holds only what orjson writes byte for byte as json.dumps does, or
    refuses (then json decides): no float, no type beyond JSON's own (exact types: a
    subclass may serialize differently)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    try:
        if kind is dict:  # text values, most of them, are taken without a call
            for key, item in value.items():
                if type(key) is not str or (
                        type(item) is not str and not _orjson_spells_as_json(item)):
                    return False
            return True
        if kind is list or kind is tuple:
            for item in value:
                if type(item) is not str and not _orjson_spells_as_json(item):
                    return False
            return True
    except RecursionError:
        return False
    return False


def event_id(department: str, record_id: str, raw: dict[str, Any]) -> str:
    """sha256 of department, record id and the raw values the department sent."""
    return event_id_of_json(department, record_id, canonical_json(raw))


def event_id_of_json(department: str, record_id: str, raw_json: bytes) -> str:
    """event_id from the raw values' canonical JSON, for a caller that wrote it already."""
    digest = hashlib.sha256()
    for part in (department.encode(), record_id.encode(), raw_json):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]


def make_event(
    *,
    department: str,
    event_type: str,
    record_id: str,
    raw: dict[str, Any],
    parsed: dict[str, Any],
    origin: dict[str, Any],
    time: str | None = None,
    raw_json: bytes | None = None,
) -> dict[str, Any]:
    """A canonical event: raw values verbatim beside the parsed ones, and where they came from.

    `raw_json` is canonical_json(raw) when the caller has written it already (the mapping
    does, to refuse values no event can hold).
    """
    raw_json = canonical_json(raw) if raw_json is None else raw_json
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event_id_of_json(department, record_id, raw_json),
        "source": f"/departments/{department}",
        "type": event_type,
        "subject": record_id,
        "datacontenttype": "application/json",
        "dataschema": latest_dataschema(event_type),
        "data": {"raw": raw, "parsed": parsed, "origin": origin},
    }
    if time is not None:
        event["time"] = time
    return event


def with_time(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`event` with a CloudEvents `time`: its own when the department gave one (when the change
    happened), else `now`, when the hub publishes it (the spec allows the producer's time when
    the occurrence's is unknown). The id does not depend on it."""
    return event if "time" in event else {**event, "time": rfc3339(now)}


def rfc3339(moment: datetime) -> str:
    """A CloudEvents `time`: RFC 3339 in UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
