"""`sanwang connect DEPARTMENT --file F`: a department's export file, backfilled end to end."""

from __future__ import annotations

from pathlib import Path

from connectors import police
from connectors.backfill import BackfillTally, run_backfill
from connectors.csv_source import read_csv
from connectors.publisher import EventPublisher
from deploy.settings import HubSettings
from deploy.topics import ensure_topics
from schemas.topics import all_topics


def backfill_police_file(settings: HubSettings, path: Path, progress: bool = True
                         ) -> BackfillTally:
    """Publish every row of the police GB18030 CSV export; bad rows to the dead-letter topic."""
    ensure_topics(settings, all_topics(settings.topic_prefix))
    publisher = EventPublisher(settings, police.DEPARTMENT)
    try:
        records = read_csv(path, police.CSV_ENCODING, police.CSV_HEADER)
        return run_backfill(records, police.police_event, publisher,
                            total_bytes=path.stat().st_size, progress=progress)
    finally:
        publisher.close()
