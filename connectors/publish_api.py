"""Publishing canonical events that a department built itself (`sanwang publish`, Python API).

Any department publishes through the same path as the built-in connectors: each event is
checked against its schema and must come from the publishing department; a refused event is
answered with its reason and also dead-lettered, so nothing is silently dropped.

    from schemas.events import make_event
    from connectors.publish_api import publish_events
    report = publish_events(settings, department_id, [make_event(...), ...])
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.file_backfill import open_publish_path
from connectors.metrics import RECORDS_READ
from connectors.publisher import InvalidEventError
from connectors.records import SourceRecord
from deploy.settings import HubSettings
from schemas.events import canonical_json


@dataclass
class PublishReport:
    """Event ids the broker acknowledged; (position, reason) of each refused event."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def publish_events(settings: HubSettings, department: str, events: Iterable[Any]
                   ) -> PublishReport:
    """Validate and publish; returns once the broker acknowledged every accepted event."""
    _, publisher = open_publish_path(settings, department)
    report = PublishReport()
    try:
        for index, event in enumerate(events):
            RECORDS_READ.labels(department).inc()
            reason = _refusal(event, department)
            if reason is None:
                try:
                    publisher.publish(event)
                    report.accepted.append(event["id"])
                    continue
                except InvalidEventError as error:
                    reason = str(error)
            report.rejected.append((index, reason))
            publisher.dead_letter(SourceRecord({"publish": department, "index": index},
                                               _bytes_of(event)), "publish", reason)
        publisher.flush()
    finally:
        publisher.close()
    return report


def _refusal(event: Any, department: str) -> str | None:
    if not isinstance(event, dict):
        return f"not an event object but {type(event).__name__}"
    if event.get("source") != f"/departments/{department}":
        return f"source: {event.get('source')!r} is not /departments/{department}"
    return None


def _bytes_of(event: Any) -> bytes:
    try:
        return canonical_json(event)
    except (TypeError, ValueError):
        return repr(event).encode()


def read_event_lines(lines: Iterable[str]) -> Iterable[Any]:
    """Events from JSON lines; a line that is not JSON is passed on as text (and refused)."""
    for line in lines:
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:
                yield line.rstrip("\n")
