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

from schemas.registry import latest_dataschema

SPEC_VERSION = "1.0"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
KAFKA_HEADERS = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def canonical_json(value: Any) -> bytes:
    """One byte form per value: sorted keys, no spaces, UTF-8 (what ids are hashed over).

    Infinity and NaN (1e400 parses as infinity) raise ValueError: they are not JSON, and
    PostgreSQL would refuse the event.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def event_id(department: str, record_id: str, raw: dict[str, Any]) -> str:
    """sha256 of department, record id and the raw values the department sent."""
    digest = hashlib.sha256()
    for part in (department.encode(), record_id.encode(), canonical_json(raw)):
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
) -> dict[str, Any]:
    """A canonical event: raw values verbatim beside the parsed ones, and where they came from."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event_id(department, record_id, raw),
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
