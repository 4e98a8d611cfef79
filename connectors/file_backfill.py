"""`sanwang connect DEPARTMENT --file F`: a department's export file, backfilled end to end."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from connectors import police
from connectors.backfill import BackfillTally, ReadFrom, ToEvent, run_backfill
from connectors.checkpoints import CheckpointStore, file_identity
from connectors.csv_source import read_csv
from connectors.publisher import EventPublisher
from connectors.records import SourceRecord
from deploy.settings import HubSettings
from deploy.topics import ensure_topics
from schemas.topics import all_topics


def _police_csv(path: Path, start: int) -> Iterator[SourceRecord]:
    return read_csv(path, police.CSV_ENCODING, police.CSV_HEADER, start)


def source_for(department: str, path: Path) -> tuple[ReadFrom, ToEvent, int, str]:
    """How to read this department's export: reader, mapping, progress total and its unit."""
    if department == police.DEPARTMENT:
        return partial(_police_csv, path), police.police_event, path.stat().st_size, "B"
    raise ValueError(f"no file backfill for department {department!r}")


def backfill_file(settings: HubSettings, department: str, path: Path, progress: bool = True
                  ) -> BackfillTally:
    """Publish every record of the export; bad records to the dead-letter topic; resumable."""
    read_from, to_event, total, unit = source_for(department, path)
    ensure_topics(settings, all_topics(settings.topic_prefix))
    checkpoints = CheckpointStore(settings.home.resolve() / "checkpoints")
    publisher = EventPublisher(settings, department)
    try:
        return run_backfill(read_from, to_event, publisher, checkpoints,
                            key=f"backfill:{department}:{file_identity(path)}",
                            total=total, unit=unit, progress=progress)
    finally:
        publisher.close()
