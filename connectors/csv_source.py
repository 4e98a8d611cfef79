"""Read a department's CSV export line by line, keeping each line's bytes, number and offset.

Lines are decoded one at a time so that one badly encoded line is dead-lettered on its own
instead of stopping the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.records import SourceRecord, UnreadableFileError

# A line over 256 KiB is no department's record: dead-lettered (with its first 256 KiB), which
# also keeps every event and dead letter below the broker's 1 MiB message limit.
MAX_LINE_BYTES = 256 << 10
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16 LE and BE


def read_csv(path: Path, encoding: str, expected_header: list[str], start: int = 0
             ) -> Iterator[SourceRecord]:
    """Yield every data line of `path` with columns by header name, from byte `start` on.

    `start` is a `position` an earlier read yielded (0: from the first data line).
    """
    with open(path, "rb") as file:
        first = file.readline(MAX_LINE_BYTES)
        try:
            header = _split(first.decode(encoding).lstrip("\ufeff"))
        except (UnicodeDecodeError, csv.Error) as error:
            raise UnreadableFileError(f"{path}: header line is not {encoding} CSV ({error})"
                                      ) from None
        if header != expected_header:
            raise UnreadableFileError(
                f"{path}: header {header[:20]} is not the expected {expected_header}")
        number = 1
        if start:
            number += file.read(start - file.tell()).count(b"\n")
        for line in iter(file.readline, b""):
            number += 1
            if not line.strip():
                continue
            origin = {"file": path.name, "line": number}
            yield _record(line, origin, encoding, header, file.tell())


def _record(line: bytes, origin: dict[str, Any], encoding: str, header: list[str],
            position: int) -> SourceRecord:
    if len(line) > MAX_LINE_BYTES:
        return SourceRecord(origin, line[:MAX_LINE_BYTES], reason="oversized", position=position,
                            error=f"line of {len(line)} bytes exceeds {MAX_LINE_BYTES}")
    if line.startswith(_BOMS):
        return SourceRecord(origin, line, reason="encoding", position=position,
                            error="a byte order mark inside the file (files joined together?)")
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as error:
        return SourceRecord(origin, line, reason="encoding", position=position,
                            error=f"not {encoding}: {error.reason} at byte {error.start}")
    if encoding == "gb18030" and _is_utf8_text(line):
        return SourceRecord(origin, line, reason="encoding", position=position,
                            error="UTF-8 bytes in a gb18030 file (would be read as mojibake)")
    try:
        values = _split(text)
    except csv.Error as error:
        return SourceRecord(origin, line, reason="csv", position=position,
                            error=f"unreadable CSV: {error}")
    if len(values) != len(header):
        return SourceRecord(origin, line, reason="column_count", position=position,
                            error=f"{len(values)} columns, expected {len(header)}")
    return SourceRecord(origin, line, columns=dict(zip(header, values, strict=True)),
                        position=position)


def _is_utf8_text(line: bytes) -> bool:
    """Whether non-ASCII bytes are valid UTF-8: GB18030 decodes most UTF-8 Chinese without an
    error, into other characters, while real GB18030 Chinese text is almost never valid UTF-8."""
    if line.isascii():
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split(text: str) -> list[str]:
    rows = list(csv.reader([text.rstrip("\r\n")], strict=True))
    return rows[0] if rows else []
