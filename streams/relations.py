"""A resident's relatives as the store knows them (hub.resident_relations), for display."""

from __future__ import annotations

from typing import Any


def relations_of(cur: Any, resident: str) -> list[dict[str, Any]]:
    """Each relative: who they are to the resident (mother, father, child, spouse), their
    resident id (None while the hub knows no resident with their number), their name as the
    record gives it, and the record that says so."""
    cur.execute("SELECT kind, relative_id, relative_name AS name, evidence AS record"
                " FROM hub.resident_relations WHERE resident_id = %s"
                " ORDER BY kind, evidence, relative_id", (resident,))
    columns = ("kind", "relative_id", "name", "record")
    return [dict(row) if isinstance(row, dict) else dict(zip(columns, row, strict=True))
            for row in cur.fetchall()]
