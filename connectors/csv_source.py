"""Read a department's CSV export line by line, keeping each line's bytes and number.

Lines are decoded one at a time so that one badly encoded line is dead-lettered on its own
instead of stopping the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from connectors.records import SourceRecord

MAX_LINE_BYTES = 1 << 20  # a line over 1 MiB is no department's record: dead-lettered


def read_csv(path: Path, encoding: str, expected_header: list[str]) -> Iterator[SourceRecord]:
    """Yield every data line of `path` as a SourceRecord with columns by header name."""
    with open(path, "rb") as file:
        header_line = file.readline()
        header = _split(header_line.decode(encoding).lstrip("\ufeff"))
        if header != expected_header:
            raise ValueError(
                f"{path}: header {header} is not the expected {expected_header}"
            )
        for number, line in enumerate(file, start=2):
            origin = {"file": path.name, "line": number}
            if not line.strip():
                continue
            yield _record(line, origin, encoding, header)


def _record(line: bytes, origin: dict, encoding: str, header: list[str]) -> SourceRecord:
    if len(line) > MAX_LINE_BYTES:
        return SourceRecord(origin, line[:MAX_LINE_BYTES], error=f"line of {len(line)} bytes "
                            f"exceeds {MAX_LINE_BYTES}", reason="oversized")
    if not line.endswith(b"\n"):
        line += b"\n"  # the last line of a file may lack its newline
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as error:
        return SourceRecord(origin, line, error=f"not {encoding}: {error.reason} at byte "
                            f"{error.start}", reason="encoding")
    try:
        values = _split(text)
    except csv.Error as error:
        return SourceRecord(origin, line, error=f"unreadable CSV: {error}", reason="csv")
    if len(values) != len(header):
        return SourceRecord(origin, line, error=f"{len(values)} columns, expected {len(header)}",
                            reason="column_count")
    return SourceRecord(origin, line, columns=dict(zip(header, values, strict=True)))


def _split(text: str) -> list[str]:
    rows = list(csv.reader([text.rstrip("\r\n")], strict=True))
    return rows[0] if rows else []
