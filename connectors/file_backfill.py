"""`sanwang connect DEPARTMENT --file F`: a department's export file, backfilled end to end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from connectors import civil_affairs, police, social_security
from connectors.backfill import BackfillTally, ReadFrom, ToEvent, run_backfill
from connectors.checkpoints import CheckpointStore, file_identity
from connectors.csv_source import read_csv
from connectors.jsonl_source import read_jsonl
from connectors.publisher import EventPublisher
from connectors.records import SourceRecord, UnreadableFileError
from connectors.xlsx_source import read_xlsx
from deploy.errors import InputError
from deploy.settings import HubSettings


def _police_csv(path: Path, start: int) -> Iterator[SourceRecord]:
    return read_csv(path, police.CSV_ENCODING, police.CSV_HEADER, start)


def _civil_affairs_csv(path: Path, start: int) -> Iterator[SourceRecord]:
    return read_csv(path, civil_affairs.CSV_ENCODING, civil_affairs.CSV_HEADER, start)


def _civil_affairs_xlsx(path: Path, start: int) -> Iterator[SourceRecord]:
    return read_xlsx(path, civil_affairs.CSV_HEADER, start)


def source_for(department: str, path: Path) -> tuple[ReadFrom, ToEvent, int, str]:
    """How to read this department's export: reader, mapping, progress total and its unit.

    Progress of text files is in bytes; of a spreadsheet, in rows (its last row number).
    """
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if department == police.DEPARTMENT and suffix == ".csv":
        return partial(_police_csv, path), police.police_event, size, "B"
    if department == civil_affairs.DEPARTMENT and suffix == ".csv":
        return partial(_civil_affairs_csv, path), civil_affairs.civil_affairs_event, size, "B"
    if department == civil_affairs.DEPARTMENT and suffix == ".xlsx":
        return (partial(_civil_affairs_xlsx, path), civil_affairs.civil_affairs_event,
                _xlsx_rows(path), "rows")
    if department == social_security.DEPARTMENT and suffix in (".jsonl", ".json"):
        return partial(read_jsonl, path), social_security.social_security_event, size, "B"
    raise InputError(f"{path.name}: {department} exports are read from "
                     f"{_FORMATS[department]}, not {suffix or 'a file without suffix'}")


_FORMATS = {police.DEPARTMENT: ".csv (GB18030)",
            civil_affairs.DEPARTMENT: ".csv (UTF-8 with BOM) or .xlsx",
            social_security.DEPARTMENT: ".jsonl (UTF-8)"}


def _xlsx_rows(path: Path) -> int:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True)
    except (BadZipFile, InvalidFileException, KeyError) as error:
        raise UnreadableFileError(f"{path}: not a readable .xlsx ({error})") from None
    try:
        return workbook.worksheets[0].max_row or 0
    finally:
        workbook.close()


def open_publish_path(settings: HubSettings, department: str
                      ) -> tuple[CheckpointStore, EventPublisher]:
    """The progress store and a publisher for `department`.

    The topics exist already: `sanwang up` (or the migrate job) created them as the admin, and
    a department's principal may not create topics.
    """
    return (CheckpointStore(settings.home.resolve() / "checkpoints"),
            EventPublisher(settings, department))


def backfill_file(settings: HubSettings, department: str, path: Path, progress: bool = True,
                  stop: threading.Event | None = None) -> BackfillTally:
    """Publish every record of the export; bad records to the dead-letter topic; resumable,
    and stopped (progress saved) once `stop` is set."""
    read_from, to_event, total, unit = source_for(department, path)
    checkpoints, publisher = open_publish_path(settings, department)
    try:
        return run_backfill(read_from, to_event, publisher, checkpoints,
                            key=f"backfill:{publisher.destination}:{file_identity(path)}",
                            total=total, unit=unit, progress=progress, stop=stop)
    finally:
        publisher.close()
