"""人社 social security (金保 field codes): the department's JSON objects to events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.fields import (
    FieldError,
    parse_date,
    parse_phone,
    parse_sex,
    parse_timestamp,
)
from connectors.records import MappingError, id_number_field, optional_text, parse_column
from schemas.events import canonical_json, make_event

DEPARTMENT = "social_security"
EVENT_TYPE = "hub.social_security.record"

# The contract's fields; any other key is allowed and kept in raw.
FIELDS = ["serial", "event", "aac001", "aac002", "aac003", "aac004", "aac006", "address",
          "phone", "occurred", "payload"]
MAX_SERIAL = 64  # the envelope's subject limit: a longer one would be refused at publishing
EVENTS = {"insurance.enrolled", "employment.registered", "pension.started", "pension.stopped"}


def _required(obj: dict[str, Any], field: str) -> str:
    text = parse_column(obj, field, optional_text)
    if text is None:
        raise MappingError(f"{field}: missing")
    return text


def _occurred(value: Any) -> datetime | None:
    """An offset in seconds is ISO 8601 to Python but not RFC 3339 (CloudEvents time)."""
    moment = parse_timestamp(value)
    if moment is not None and moment.utcoffset() % timedelta(minutes=1):
        raise FieldError(f"UTC offset not in whole minutes {value!r}")
    return moment


def _payload(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise FieldError(f"expected a JSON object or null, got {type(value).__name__}")
    return value


def _check_storable(obj: dict[str, Any]) -> None:
    """Refuse what the event could not be written as (lone surrogates from "\\ud800" escapes)."""
    for key, value in obj.items():
        try:
            canonical_json({key: value})
        except (ValueError, TypeError, RecursionError) as error:
            name = str(key).encode("utf-8", "backslashreplace").decode()
            raise MappingError(f"{name}: cannot be stored as JSON ({error})") from None


def social_security_event(obj: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    """One social security object, as pushed or as a backfill line, as a canonical event."""
    _check_storable(obj)
    record_id = _required(obj, "serial")
    if len(record_id) > MAX_SERIAL:
        raise MappingError(f"serial: longer than {MAX_SERIAL} characters {record_id[:80]!r}")
    event = _required(obj, "event")
    if event not in EVENTS:
        raise MappingError(f"event: unknown event {event!r}")
    birth = parse_column(obj, "aac006", parse_date)
    occurred = parse_column(obj, "occurred", _occurred)
    if occurred is None:
        raise MappingError("occurred: missing")
    parsed = {
        "record_id": record_id,
        "event": event,
        "person_key": _required(obj, "aac001"),
        "id_number": id_number_field(obj, "aac002"),
        "name": parse_column(obj, "aac003", optional_text),
        "sex": parse_column(obj, "aac004", parse_sex),
        "birth_date": None if birth is None else birth.iso(),
        "address": parse_column(obj, "address", optional_text),
        "phone": parse_column(obj, "phone", parse_phone),
        "occurred": occurred.isoformat(),
        "payload": parse_column(obj, "payload", _payload),
    }
    return make_event(department=DEPARTMENT, event_type=EVENT_TYPE, record_id=record_id,
                      raw=dict(obj), parsed=parsed, origin=origin, time=parsed["occurred"])
