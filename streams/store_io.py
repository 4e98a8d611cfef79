"""Writing many rows at once, and the record refs' two halves (every function runs in the
caller's transaction)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

PAGE = 10_000  # rows per INSERT: a batch's rows go in one or few statements, not one per 100


def copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
              ) -> None:
    """Append rows with COPY, for tables the merge only appends to: the server parses no SQL
    per row, as it must for INSERT ... VALUES (bench/README.md, "PostgreSQL's time")."""
    text = "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    if text:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))


def _copy_field(value: Any) -> str:
    """A value in COPY's text format (chained `replace`s: far cheaper than `translate`)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | tuple):
        return _copy_field("{" + ",".join(_array_item(v) for v in value) + "}")
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _array_item(value: str) -> str:
    """One element of a text[] literal, quoted: `{"a,b","c\\"d"}`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_ref(ref: str) -> tuple[str, str]:
    source, record_id = ref.split(":", 1)
    return source, record_id
