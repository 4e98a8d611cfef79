"""The events the hub writes itself (change feed, findings, dead letters), as CloudEvents 1.0.

Like the departments' events (schemas/events.py) they travel in the CloudEvents Kafka binding's
structured mode, so any CloudEvents SDK reads every hub topic. Their ids repeat exactly when a
message is delivered again, so that a subscriber deduplicates on (source, id): a change's id is
its outbox sequence number, a dead letter's a hash of what was refused and where.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.fields import mask_id_numbers
from schemas.events import SPEC_VERSION, canonical_json, rfc3339
from schemas.registry import schema_urn

MAX_DEAD_LETTER_RAW = 256 << 10  # a dead letter keeps this much of the raw record, and its size
DEAD_LETTER_TYPE = "hub.record.dead_lettered"
PROCESSOR_SOURCE = "/hub/processor"


@dataclass(frozen=True)
class OutboxEntry:
    """One row of hub.change_outbox: what changed about a resident, and when it was stored."""

    seq: int
    resident_id: str
    change: str  # created | updated | merged | split | removed | finding
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    """A record (or message) one part of the hub refused, as it came, with why and where from."""

    source: str  # the part that refused it: /departments/<department> or /hub/processor
    department: str  # whose record it is
    reason: str
    error: str
    origin: dict[str, Any]
    raw: bytes


def change_event(entry: OutboxEntry) -> dict[str, Any]:
    """A change-feed or findings event; the same entry always gives the same event."""
    finding = entry.change == "finding"
    return {
        "specversion": SPEC_VERSION,
        "id": str(entry.seq),
        "source": "/hub/findings" if finding else "/hub/residents",
        "type": f"hub.resident.{entry.change}",
        "subject": entry.resident_id,
        "time": rfc3339(entry.created_at),
        "datacontenttype": "application/json",
        "dataschema": schema_urn("finding" if finding else "resident_change", 1),
        "data": {"resident_id": entry.resident_id, "change": entry.change, **entry.payload},
    }


def dead_letter_id(letter: DeadLetter) -> str:
    """sha256 of who refused what, why and where: the same refusal again has the same id."""
    digest = hashlib.sha256()
    for part in (letter.source.encode(), letter.reason.encode(), canonical_json(letter.origin),
                 letter.raw):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]


def dead_letter_event(letter: DeadLetter, now: datetime) -> dict[str, Any]:
    """The one shape of every dead letter: the error with ID numbers masked, the raw bytes
    (base64, the first MAX_DEAD_LETTER_RAW of them) and their full size."""
    return {
        "specversion": SPEC_VERSION,
        "id": dead_letter_id(letter),
        "source": letter.source,
        "type": DEAD_LETTER_TYPE,
        "subject": letter.department,
        "time": rfc3339(now),
        "datacontenttype": "application/json",
        "dataschema": schema_urn("dead_letter", 1),
        "data": {
            "department": letter.department,
            "reason": letter.reason,
            "error": mask_id_numbers(letter.error),
            "origin": letter.origin,
            "raw_size": len(letter.raw),
            "raw_base64": base64.b64encode(letter.raw[:MAX_DEAD_LETTER_RAW]).decode(),
        },
    }
