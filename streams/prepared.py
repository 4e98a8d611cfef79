"""The merge's statements prepared once per connection, so PostgreSQL plans each one once.

psycopg2 sends every statement as text with its values written in, and PostgreSQL plans it
again each time. For the merge's lookups (`key = ANY(...)` over a batch's keys) planning could
cost more than running: the planner estimates each element of a constant array, 4 to 6 ms for
the arrays of a batch of 500 changes (bench/README.md, "2026-12-07 (night)"). A prepared
statement takes its values as parameters, so after its first executions PostgreSQL keeps one
generic plan (plan_cache_mode `auto`) and plans no more.

A `PreparingConnection`'s cursors run a statement with values as text the first time the
connection runs it, PREPARE it the second time and EXECUTE it from then on: a statement run once
(a command's or a test's connection) does not pay for the PREPARE and its savepoint, and
PostgreSQL gives a prepared statement custom plans for its first five runs anyway. The PREPARE
runs under a savepoint: a statement PostgreSQL cannot prepare (a SET, or a parameter whose type
it cannot infer) runs as text from then on, and the transaction goes on. Statements without
values (COPY, DDL) run as text. A rollback does not undo a PREPARE that succeeded: a prepared
statement lasts as long as its connection.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg2
import psycopg2.extensions

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?s|%%")
MOST_PREPARED = 500  # distinct statements per connection; past it, a new one runs as text


def as_prepared(query: str) -> tuple[str, list[str | int]]:
    """`query` with psycopg2's placeholders (`%s`, `%(name)s`) as $1, $2, ...; and for each $n,
    where its value is: a dict's key, or a position in a sequence."""
    keys: list[str | int] = []
    positions = 0

    def number(match: re.Match[str]) -> str:
        nonlocal positions
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            keys.append(positions)
            positions += 1
            return f"${len(keys)}"
        if name not in keys:
            keys.append(name)
        return f"${keys.index(name) + 1}"

    return PLACEHOLDER.sub(number, query), keys


class PreparingCursor(psycopg2.extensions.cursor):
    """Runs a statement with values as its connection's prepared statement (module docstring)."""

    def execute(self, query: Any, vars: Any = None) -> None:  # noqa: A002 (psycopg2's name)
        if vars is None:
            return super().execute(query, vars)
        text = query if isinstance(query, str) else query.decode()
        name, keys = self.connection.prepared(text, self)
        if name is None:
            return super().execute(query, vars)
        values = [vars[key] for key in keys]
        arguments = f"({', '.join(['%s'] * len(values))})" if values else ""
        return super().execute(f"EXECUTE {name}{arguments}", values)


class PreparingConnection(psycopg2.extensions.connection):
    """A connection whose cursors are `PreparingCursor`s; it knows what it has prepared."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_factory = PreparingCursor
        self._statements: dict[str, tuple[str | None, list[str | int]]] = {}
        self._run_once: set[str] = set()

    def prepared(self, query: str, cur: Any) -> tuple[str | None, list[str | int]]:
        """The name `query` is prepared under (None: it runs as text) and its values' keys,
        preparing it with `cur` the second time it runs."""
        if query not in self._run_once:
            self._run_once.add(query)
            return None, []
        if query not in self._statements:
            text, keys = as_prepared(query)
            name = f"merge_{len(self._statements) + 1}"
            if len(self._statements) >= MOST_PREPARED or not _prepare(cur, name, text):
                name = None
            self._statements[query] = (name, keys)
        return self._statements[query]


def _prepare(cur: Any, name: str, text: str) -> bool:
    """PREPARE under a savepoint (its failure leaves the transaction as it was)."""
    run = psycopg2.extensions.cursor.execute
    run(cur, "SAVEPOINT preparing")
    try:
        run(cur, f"PREPARE {name} AS {text}")
    except psycopg2.Error:
        run(cur, "ROLLBACK TO SAVEPOINT preparing")
        return False
    finally:
        run(cur, "RELEASE SAVEPOINT preparing")
    return True
