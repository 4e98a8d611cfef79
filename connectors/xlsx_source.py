"""Read a department's .xlsx export row by row, as the same text its CSV export would hold.

A record must mean the same thing whichever way it arrives, so every cell is turned into the
text a CSV export of the sheet would contain before any mapping sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from connectors.records import SourceRecord, UnreadableFileError
from schemas.events import canonical_json


def read_xlsx(path: Path, expected_header: list[str], start: int = 0) -> Iterator[SourceRecord]:
    """Yield every non-empty data row of the first sheet of `path`, after sheet row `start`.

    `start` is a `position` an earlier read yielded (the sheet row number; 0: from the first
    data row).
    """
    # data_only: a formula cell counts as the value Excel last computed, as in a CSV export.
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError) as error:
        raise UnreadableFileError(f"{path}: not a readable .xlsx ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        # The <dimension> a writer records may be wrong; trusting it would drop rows or cells.
        sheet.reset_dimensions()
        header = [_text(v) for v in _trimmed(next(sheet.iter_rows(max_row=1, values_only=True),
                                                 ()))]
        if header != expected_header:
            raise UnreadableFileError(
                f"{path}: header {header[:20]} is not the expected {expected_header}")
        first = max(start + 1, 2)
        for number, row in enumerate(sheet.iter_rows(min_row=first, values_only=True), first):
            values = _trimmed(row)
            if values:
                yield _record(values, {"file": path.name, "row": number}, header, number)
    finally:
        workbook.close()


def _record(values: list[Any], origin: dict[str, Any], header: list[str], position: int
            ) -> SourceRecord:
    raw_bytes = canonical_json([_json_value(v) for v in values])
    if len(values) > len(header):
        return SourceRecord(origin, raw_bytes, reason="column_count", position=position,
                            error=f"{len(values)} columns, expected {len(header)}")
    texts = [_text(v) for v in values] + [""] * (len(header) - len(values))
    return SourceRecord(origin, raw_bytes, columns=dict(zip(header, texts, strict=True)),
                        position=position)


def _trimmed(row: tuple[Any, ...]) -> list[Any]:
    """The row without its trailing empty cells (styled but blank cells still get read)."""
    values = list(row)
    while values and values[-1] in (None, ""):
        values.pop()
    return values


def _text(value: Any) -> str:
    """The text a CSV export holds for a cell: dates as YYYY-MM-DD, 720.0 as 720."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _json_value(value: Any) -> Any:
    """A cell value as JSON can hold it (dates and durations as text), for the raw bytes."""
    if isinstance(value, timedelta):
        return str(value)
    return _text(value) if isinstance(value, date | time) else value
