"""`sanwang connect DEPARTMENT --file F`: a department's export file, backfilled end to end."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

from connectors.backfill import BackfillTally, ReadFrom, ToEvent, run_backfill
from connectors.checkpoints import CheckpointStore, file_identity
from connectors.csv_source import read_csv
from connectors.jsonl_source import read_jsonl
from connectors.mapping import to_event
from connectors.publisher import EventPublisher
from connectors.records import UnreadableFileError
from connectors.xlsx_source import read_xlsx
from deploy.settings import HubSettings
from schemas.departments import department as declared


def source_for(name: str, path: Path) -> tuple[ReadFrom, ToEvent, int, str]:
    """How to read this department's export, by its suffix as the declaration names the
    formats: reader, mapping, progress total and its unit.

    Progress of text files is in bytes; of a spreadsheet, in rows (its last row number).
    """
    department = declared(name)
    found = department.format_for(path.suffix)
    if found is None:
        formats = ", ".join(f"{f.suffix} ({f.kind}, {f.encoding})" if f.kind == "csv"
                            else f"{f.suffix} ({f.kind})" for f in department.formats)
        raise UnreadableFileError(f"{path.name}: {department.id} exports are read from "
                                  f"{formats}, not {path.suffix or 'a file without suffix'}")
    mapping = partial(to_event, department)
    if found.kind == "csv":
        return (partial(read_csv, path, found.encoding, department.header), mapping,
                path.stat().st_size, "B")
    if found.kind == "xlsx":
        return partial(read_xlsx, path, department.header), mapping, _xlsx_rows(path), "rows"
    return partial(read_jsonl, path), mapping, path.stat().st_size, "B"


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
    read_from, mapping, total, unit = source_for(department, path)
    checkpoints, publisher = open_publish_path(settings, department)
    try:
        return run_backfill(read_from, mapping, publisher, checkpoints,
                            key=f"backfill:{publisher.destination}:{file_identity(path)}",
                            total=total, unit=unit, progress=progress, stop=stop)
    finally:
        publisher.close()
