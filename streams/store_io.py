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


def upsert_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                key: Sequence[str], update: Sequence[str] = ()) -> None:
    """Insert rows, or update `update` columns of those whose `key` is taken: COPY into a
    temporary twin of the table, then one INSERT ... SELECT (psycopg2's execute_values builds
    every row's SQL in Python, which cost the merge a tenth of its time)."""
    rows = list(rows)
    if not rows:
        return
    stage = f"stage_{table.rsplit('.', 1)[-1]}"
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS"
                f" SELECT {', '.join(columns)} FROM {table} WITH NO DATA")
    copy_rows(cur, stage, columns, rows)
    action = (f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in update)}" if update
              else "DO NOTHING")
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)}"
                f" FROM {stage} ON CONFLICT ({', '.join(key)}) {action}")
    # emptied now, not at commit: a second upsert in the transaction must not apply these again
    cur.execute(f"TRUNCATE {stage}")
