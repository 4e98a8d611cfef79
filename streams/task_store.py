"""Verification tasks in the store, kept by the merge (in the caller's transaction).

A claim the owner's value contradicts opens a task (due in the kind's days: settings
`task_due_days`); one it agrees with closes an open task as `agreed`, by the owner's record, and
a later contradiction opens it again. A department's decision (`confirmed`, `rejected`: the
query API's) sticks. So the open tasks depend only on the records and the decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from psycopg2.extras import execute_values

from deploy.id_keys import process_keyring
from deploy.settings import HubSettings
from streams import id_protection as ids
from streams.json_text import json_text, json_value
from streams.resident_state import ResidentState
from streams.store_io import PAGE
from streams.verification import Claim

DECIDED = ("confirmed", "rejected")


@cache
def due_days(kind: str) -> int:
    settings = HubSettings()
    return settings.task_due_days.get(kind, settings.task_due_days_default)


def task_id(report: str, attribute: str) -> str:
    """The same claim found again has the same id."""
    return hashlib.sha256(f"{report}|{attribute}".encode()).hexdigest()[:24]


def _sealed(value: Any) -> str | None:
    return None if value is None else json_text(ids.seal_document(process_keyring(), value))


def write_tasks(cur: Any, states: Sequence[ResidentState]) -> None:
    """Open, follow and close the tasks of these residents' claims where they changed."""
    claims: dict[str, tuple[str, Claim]] = {task_id(c.report, c.attribute): (s.resident, c)
                                            for s in states for c in s.claims}
    if not claims:
        return
    cur.execute("SELECT task_id, status, resident_id, owner_value::text, owner_record"
                " FROM hub.verification_tasks WHERE task_id = ANY(%s)", (sorted(claims),))
    stored = {row[0]: row[1:] for row in cur.fetchall()}
    keyring = process_keyring()
    opened, changed = [], []
    for task, (resident, c) in sorted(claims.items()):
        status = "agreed" if c.holds else "open"
        if task not in stored:
            if not c.holds:
                opened.append((task, c.report, c.attribute, c.department, c.kind, c.expect,
                               resident, _sealed(c.reported), c.observed_on,
                               _sealed(c.owner_value), c.owner_record, due_days(c.kind)))
            continue
        was, was_resident, owner_value, owner_record = stored[task]
        before = ids.open_document(keyring, json_value(owner_value)) if owner_value else None
        if was not in DECIDED and (was, was_resident, before, owner_record) != (
                status, resident, c.owner_value, c.owner_record):
            changed.append((task, status, resident, _sealed(c.owner_value), c.owner_record,
                            due_days(c.kind)))
    if opened:
        execute_values(cur, """
            INSERT INTO hub.verification_tasks (task_id, report_ref, attribute, department, kind,
                   expect, resident_id, reported, observed_on, owner_value, owner_record, due_at)
            SELECT v.task_id, v.report_ref, v.attribute, v.department, v.kind, v.expect,
                   v.resident_id, v.reported::jsonb, v.observed_on, v.owner_value::jsonb,
                   v.owner_record, now() + v.days * interval '1 day'
              FROM (VALUES %s) AS v (task_id, report_ref, attribute, department, kind, expect,
                                     resident_id, reported, observed_on, owner_value,
                                     owner_record, days)
                ON CONFLICT (task_id) DO NOTHING""", opened, page_size=PAGE)
    if changed:
        execute_values(cur, """
            UPDATE hub.verification_tasks t
               SET status = v.status, resident_id = v.resident_id,
                   owner_value = v.owner_value::jsonb, owner_record = v.owner_record,
                   closed_at = CASE WHEN v.status = t.status THEN t.closed_at
                                    WHEN v.status = 'agreed' THEN now() END,
                   closed_by = CASE WHEN v.status = t.status THEN t.closed_by
                                    WHEN v.status = 'agreed' THEN v.owner_record END,
                   due_at = CASE WHEN t.status = 'agreed' AND v.status = 'open'
                                 THEN now() + v.days * interval '1 day' ELSE t.due_at END
              FROM (VALUES %s) AS v (task_id, status, resident_id, owner_value, owner_record,
                                     days)
             WHERE t.task_id = v.task_id AND t.status IN ('open', 'agreed')""", changed,
                       page_size=PAGE)
