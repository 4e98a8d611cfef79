"""Verification tasks (核实任务) for the department that owns the fact: GET
/departments/{department}/tasks lists them (a page at a time, soonest due first), POST
/departments/{department}/tasks/{task_id} closes one, confirmed or rejected with a reason. The
merge opens them and closes one by itself when the owner's own record comes to agree
(streams/task_store.py); a department's decision sticks. A decision changes no golden value: the
owner's own records do. Every read and decision is audited (who, when, which principal).

(No `from __future__ import annotations`: FastAPI must see the local dependency types.)
"""

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.access import Principal, audit
from api.responses import REFUSED_DECISION, SOME_PRINCIPALS, Problem, not_found
from deploy.id_keys import process_keyring
from schemas.departments import all_departments
from streams import id_protection as ids

TEXT = r"^[^\x00]*$"
DEPARTMENT = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,30}$",
                                 description="the department's command-line name")]
TASK_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
TaskStatus = Literal["open", "agreed", "confirmed", "rejected"]
COLUMNS = """t.task_id, t.kind, t.attribute, t.resident_id, t.report_ref, t.reported,
             t.observed_on, t.owner_value, t.owner_record, t.status, t.opened_at, t.due_at,
             t.status = 'open' AND t.due_at < now() AS overdue, t.closed_at, t.closed_by,
             t.closed_principal, t.reason, r.principal AS reported_by, r.at AS reported_at"""
FROM = """hub.verification_tasks t
          LEFT JOIN hub.grid_reports r ON r.report_id = split_part(t.report_ref, ':', 2)"""


class Task(BaseModel):
    task_id: str
    kind: str  # the report's kind (moved_out, deceased, ...)
    attribute: str
    resident_id: str
    report_ref: str  # the report's record (source:record_id)
    reported: Any  # what the report says (for `differs`: what it says is no longer so)
    observed_on: str  # when the report says the fact became so: a death's date, else the day seen
    owner_value: Any  # the department's current value; None: it has none
    owner_record: str | None
    status: TaskStatus
    opened_at: datetime.datetime
    due_at: datetime.datetime
    overdue: bool
    closed_at: datetime.datetime | None
    closed_by: str | None  # the officer, or the owner's record that agreed
    closed_principal: str | None
    reason: str | None
    reported_by: str | None  # the grid worker's principal
    reported_at: datetime.datetime | None


class TaskPage(BaseModel):
    items: list[Task]
    limit: int
    offset: int
    next_offset: int | None


OFFICER = Field(min_length=1, max_length=100, pattern=TEXT, description="who decided (audited)")
REASON = Field(min_length=2, max_length=500, pattern=TEXT)


class Confirmation(BaseModel):
    """The report is right (the department's own system will say so too)."""

    decision: Literal["confirmed"]
    officer: str = OFFICER
    reason: str | None = Field(default=None, min_length=2, max_length=500, pattern=TEXT)


class Rejection(BaseModel):
    """The report is wrong, and why."""

    decision: Literal["rejected"]
    officer: str = OFFICER
    reason: str = REASON


TaskDecision = Annotated[Confirmation | Rejection, Field(discriminator="decision")]


CLOSED = {409: {"model": Problem, "description": "the task is closed already"}}


def tasks_router(who: Callable[..., Principal],
                 transaction: Callable[..., AbstractContextManager[Any]]) -> APIRouter:
    router = APIRouter()
    Who = Annotated[Principal, Depends(who)]

    def _department(principal: Principal, name: str) -> str:
        department = all_departments().get(name.replace("-", "_"))
        if department is None or principal.kind != "department" \
                or principal.department != department.id:
            raise HTTPException(403, f"only {name}'s own principals see its tasks")
        return department.id

    def _task(row: dict[str, Any]) -> Task:
        keyring = process_keyring()
        return Task(**{**row, "reported": ids.open_document(keyring, row["reported"]),
                       "owner_value": ids.open_document(keyring, row["owner_value"])})

    @router.get("/departments/{department}/tasks", response_model=TaskPage,
                summary="a department's verification tasks, soonest due first",
                responses=SOME_PRINCIPALS)
    def tasks(principal: Who, department: DEPARTMENT,
              purpose: Annotated[str, Query(min_length=2, max_length=200, pattern=TEXT)],
              status: TaskStatus = "open", limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> TaskPage:
        owner = _department(principal, department)
        with transaction() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM {FROM} WHERE t.department = %s"
                        " AND t.status = %s ORDER BY t.due_at, t.task_id LIMIT %s OFFSET %s",
                        (owner, status, limit + 1, offset))
            rows = [dict(r) for r in cur.fetchall()]
            audit(cur, principal, "tasks", sorted({r["resident_id"] for r in rows[:limit]}),
                  ["verification_tasks"], purpose)
        return TaskPage(items=[_task(r) for r in rows[:limit]], limit=limit, offset=offset,
                        next_offset=offset + limit if len(rows) > limit else None)

    @router.post("/departments/{department}/tasks/{task_id}", response_model=Task,
                 summary="close a task: confirmed, or rejected with a reason",
                 responses=SOME_PRINCIPALS | not_found("no such task of this department")
                 | CLOSED | {400: REFUSED_DECISION[400], 422: REFUSED_DECISION[422]})
    def decide(principal: Who, department: DEPARTMENT, task_id: TASK_ID,
               decision: TaskDecision) -> Task:
        owner = _department(principal, department)
        with transaction() as cur:
            cur.execute("UPDATE hub.verification_tasks SET status = %s, closed_at = now(),"
                        " closed_by = %s, closed_principal = %s, reason = %s"
                        " WHERE task_id = %s AND department = %s AND status = 'open'"
                        " RETURNING resident_id",
                        (decision.decision, decision.officer, principal.name, decision.reason,
                         task_id, owner))
            done = cur.fetchone()
            if done is None:
                cur.execute("SELECT status FROM hub.verification_tasks WHERE task_id = %s"
                            " AND department = %s", (task_id, owner))
                found = cur.fetchone()
                if found is None:
                    raise HTTPException(404, f"no task {task_id} of {department}")
                raise HTTPException(409, f"task {task_id} is {found['status']} already")
            audit(cur, principal, f"task {decision.decision}", [done["resident_id"]],
                  ["verification_tasks"], f"task {task_id} by {decision.officer}")
            cur.execute(f"SELECT {COLUMNS} FROM {FROM} WHERE t.task_id = %s", (task_id,))
            return _task(dict(cur.fetchone()))

    return router
