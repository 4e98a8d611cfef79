"""Writing many rows at once, and the record refs' two halves (every function runs in the
caller's transaction)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

PAGE = 10_000  # rows per INSERT: a batch's rows go in one or few statements, not one per 100
# From this many rows on, `staged_rows` COPies: below it, the arrays' extra cost (about 0.07 ms
# of PostgreSQL per backfilled record) stays under the ~1.5 ms touching a temporary table adds
# to a batch (bench/README.md, "2026-12-07 (later)")
COPY_FROM_ROWS = 100


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
    """Insert rows, or update `update` columns of those whose `key` is taken, in one INSERT ...
    SELECT over `staged_rows` (psycopg2's execute_values builds every row's SQL in Python,
    which cost the merge a tenth of its time)."""
    rows = list(rows)
    if not rows:
        return
    select, params = staged_rows(cur, table, columns, rows)
    action = (f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in update)}" if update
              else "DO NOTHING")
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select}"
                f" ON CONFLICT ({', '.join(key)}) {action}", params)


def staged_rows(cur: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                ) -> tuple[str, list[str]]:
    """A SELECT of `rows` typed as `table`'s `columns`, and its parameters.

    Few rows (a live batch's) travel in the statement: each column as one array literal of its
    own type (an array column's values as text, cast back), read by `unnest`s in the select
    list. Many rows (a backlog's) are COPied into a temporary twin of the table instead: the
    server's lexer and array parser cost more per row than COPY, but touching a temporary table
    makes PostgreSQL truncate every ON COMMIT DELETE ROWS table at commit, a fixed cost a small
    batch should not pay (bench/README.md, "2026-12-07 (later)")."""
    if len(rows) >= COPY_FROM_ROWS:
        stage = f"stage_{table.rsplit('.', 1)[-1]}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS"
                    f" SELECT {', '.join(columns)} FROM {table} WITH NO DATA")
        # DELETE, not TRUNCATE: a TRUNCATE gave the table new files in every transaction
        cur.execute(f"DELETE FROM {stage}")
        copy_rows(cur, stage, columns, rows)
        return f"SELECT {', '.join(columns)} FROM {stage}", []
    types = column_types(cur, table)
    arrays = {c: types[c].endswith("]") for c in columns}
    unnests = ", ".join(f"unnest(%s::{'text' if arrays[c] else types[c]}[]) AS {c}"
                        for c in columns)
    typed = ", ".join(f"{c}::{types[c]}" if arrays[c] else c for c in columns)
    params = ["{" + ",".join(_array_element(row[i]) for row in rows) + "}"
              for i in range(len(columns))]
    return f"SELECT {typed} FROM (SELECT {unnests}) AS staged", params


def _array_element(value: Any) -> str:
    """One value of an array literal: NULL, or its text quoted (a list as its own literal)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | tuple):
        value = "{" + ",".join(_array_item(v) for v in value) + "}"
    return _array_item(str(value))


_COLUMN_TYPES: dict[str, dict[str, str]] = {}


def column_types(cur: Any, table: str) -> dict[str, str]:
    """Each column's type as SQL spells it, read from the catalog once per process (the
    migrations fix a table's columns before any worker starts)."""
    if table not in _COLUMN_TYPES:
        cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (table,))
        _COLUMN_TYPES[table] = dict(cur.fetchall())
    return _COLUMN_TYPES[table]
