"""Read JSON objects, one a line from a backfill file or in a push body, damage reported per record.

Lines are read in binary, one at a time, so that one damaged line is dead-lettered on its own
instead of stopping the file, and each record's byte offset can be resumed from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from connectors.csv_source import MAX_LINE_BYTES
from connectors.records import SourceRecord
from deploy.errors import InputError

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}


class PushBodyError(InputError):
    """A push request body that is not JSON at all: the whole request is refused."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys (raw must be what the department meant)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def read_jsonl(path: Path, start: int = 0) -> Iterator[SourceRecord]:
    """Yield every non-blank line of `path` as an object, from byte `start` on.

    `start` is a `position` an earlier read yielded (0: from the first line).
    """
    with open(path, "rb") as file:
        number = 0
        while file.tell() < start:
            chunk = file.read(min(MAX_LINE_BYTES, start - file.tell()))
            if not chunk:
                break
            number += chunk.count(b"\n")
        while line := file.readline(MAX_LINE_BYTES + 1):
            number += 1
            size = len(line)
            if size > MAX_LINE_BYTES:
                size += _skip_rest(file, line)
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            origin = {"file": path.name, "line": number}
            yield _record(line, size, origin, file.tell())


def _skip_rest(file: BinaryIO, line: bytes) -> int:
    """Read past the rest of an oversized line without holding it; the bytes skipped."""
    skipped = 0
    while not line.endswith(b"\n") and (line := file.readline(MAX_LINE_BYTES)):
        skipped += len(line)
    return skipped


def _record(line: bytes, size: int, origin: dict[str, Any], position: int) -> SourceRecord:
    if size > MAX_LINE_BYTES:
        return SourceRecord(origin, line[:MAX_LINE_BYTES], reason="oversized", position=position,
                            error=f"line of {size} bytes exceeds {MAX_LINE_BYTES}")
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        return SourceRecord(origin, line, reason="encoding", position=position,
                            error=f"not utf-8: {error.reason} at byte {error.start}")
    try:
        value = _loads(text)
    except json.JSONDecodeError as error:  # its own line number counts within this one line
        return SourceRecord(origin, line, reason="json", position=position, error=(
            f"unparseable JSON: {error.msg} (line {origin['line']}, column {error.colno})"))
    except ValueError as error:
        return SourceRecord(origin, line, reason="json", position=position,
                            error=f"unparseable JSON: {error}")
    if not isinstance(value, dict):
        return SourceRecord(origin, line, reason="not_object", position=position,
                            error=f"a JSON {_json_type(value)}, not an object")
    return SourceRecord(origin, line, columns=value, position=position)


def parse_push_body(body: bytes) -> list[dict[str, Any] | str]:
    """A pushed body (one object or an array) as its items in order; a bad item is its error.

    Each item is the decoded object, or a string such as "item 3: a JSON string, not an
    object" (0-based array index), so the endpoint can answer accept/reject per item.
    A body that is not UTF-8 JSON, or neither an object nor an array, raises PushBodyError.
    """
    try:
        value = _loads(body.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as error:
        raise PushBodyError(f"not utf-8: {error.reason} at byte {error.start}") from None
    except ValueError as error:
        raise PushBodyError(f"unparseable JSON: {error}") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise PushBodyError(f"a JSON {_json_type(value)}, not an object or an array of objects")
    return [item if isinstance(item, dict)
            else f"item {i}: a JSON {_json_type(item)}, not an object"
            for i, item in enumerate(value)]
