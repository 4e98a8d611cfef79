"""POST /grid/reports: what a grid worker saw on their rounds, about a resident of their own grid
or a person found at an address in it, published as the canonical event of the reporting source
(the declaration whose live path is `query_api`) through the same path as every department's:
validated against its schema, dead-lettered with the reason when refused (422).

Only their own grid, twice: the API looks the resident (or the grid) up as the worker's own
database role, which row-level security filters, and the report's row in hub.grid_reports is
written as that role, whose policy refuses another grid's. The report links to residents in the
merge like any record; its facts are observations (streams/survivorship.py) and may open
verification tasks for the owners (streams/verification.py, api/tasks.py).

(No `from __future__ import annotations`: FastAPI must see the local dependency types.)
"""

import datetime
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

import psycopg2
from fastapi import APIRouter, Depends, HTTPException
from psycopg2 import sql
from pydantic import BaseModel, Field

from api.access import Principal, audit
from api.responses import REFUSED_DECISION, SOME_PRINCIPALS, Invalid, Problem
from connectors.mapping import to_event
from connectors.publisher import EventPublisher, InvalidEventError
from connectors.records import MappingError, SourceRecord
from deploy.errors import HubError
from deploy.id_keys import process_keyring
from deploy.settings import HubSettings
from schemas.declarations import Department
from schemas.departments import all_departments
from schemas.events import canonical_json
from streams import id_protection as ids

TEXT = r"^[^\x00]*$"
ReportKind = Literal["moved_out", "moved_in", "deceased", "lives_alone", "phone_changed",
                     "address_corrected"]
Place = Annotated[str | None, Field(default=None, min_length=2, max_length=200, pattern=TEXT)]
WAIT_SECONDS = 30.0  # for the broker's acknowledgement


def reporting_source() -> Department:
    """The source whose records come through this API (its declaration's live path)."""
    [found] = [d for d in all_departments().values() if d.live.kind == "query_api"]
    return found


class GridReport(BaseModel):
    """What the worker saw. `resident_id` for a resident the hub knows, else the found person's
    `name` (and `id_number` if shown, `phone`), with the `grid_code` (one of the worker's) and
    the `address` where they were found. Each kind's own fields as its event schema says:
    moved_out (`moved_to` if known), deceased (`died_on`), lives_alone (yes | no),
    phone_changed (`phone`), address_corrected (`address`)."""

    kind: ReportKind
    observed_on: datetime.date
    resident_id: str | None = Field(default=None, pattern=r"^R[0-9a-f]{15}$")
    grid_code: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    name: str | None = Field(default=None, min_length=1, max_length=50, pattern=TEXT)
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$")
    phone: str | None = Field(default=None, min_length=3, max_length=30, pattern=TEXT)
    address: Place = None
    moved_to: Place = None
    died_on: datetime.date | None = None
    lives_alone: Literal["yes", "no"] | None = None


class ReportReceipt(BaseModel):
    report_id: str
    event_id: str  # the canonical event the broker acknowledged
    kind: str
    resident_id: str | None
    grid_code: str


REFUSED_REPORT = {
    400: REFUSED_DECISION[400],
    403: {"model": Problem, "description": "not a grid worker, or a resident or grid that is not "
                                           "theirs"},
    422: {"model": Invalid | Problem, "description": "a body that does not match the schema, or "
                                                     "a report its event schema refuses (also "
                                                     "dead-lettered, with the reason)"},
    503: {"model": Problem, "description": "the broker or the store did not answer; nothing was "
                                           "recorded, send again"}}


def report_columns(report: GridReport, report_id: str, grid_code: str, reporter: str,
                   known: dict[str, Any]) -> dict[str, Any]:
    """The report's record as its declaration reads it (pure): the worker's fields, and where
    they left one out, what the hub knows of the resident (`known`: identity and address), so
    that the report links to them like any other record."""
    given = report.model_dump(mode="json", exclude_none=True)
    columns = {**{k: v for k, v in known.items() if v is not None}, **given}
    columns.pop("observed_on")
    return {**columns, "report_id": report_id, "grid_code": grid_code, "reporter": reporter,
            "observed_on": report.observed_on.isoformat()}


class ReportPublisher:
    """The reporting source's publisher, opened at the first report (the API serves reads
    while the broker is away) and kept: the broker authenticates it as that source."""

    def __init__(self, settings: HubSettings) -> None:
        self._settings, self._lock = settings, threading.Lock()
        self._publisher: EventPublisher | None = None

    def get(self) -> EventPublisher:
        with self._lock:
            if self._publisher is None:
                self._publisher = EventPublisher(self._settings, reporting_source().id)
            return self._publisher


def _refuse(publisher: EventPublisher, origin: dict[str, Any], columns: dict[str, Any],
            reason: str, error: str) -> HTTPException:
    """Dead-letter the refused report with why, and answer 422 with the same reason."""
    try:
        raw = canonical_json(columns)
    except (TypeError, ValueError):
        raw = repr(columns).encode()
    publisher.dead_letter(SourceRecord(origin, raw), reason, error)
    publisher.flush(WAIT_SECONDS)
    return HTTPException(422, f"report refused: {error}")


def grid_reports_router(who: Callable[..., Principal],
                        transaction: Callable[..., AbstractContextManager[Any]],
                        reports: ReportPublisher) -> APIRouter:
    router = APIRouter()
    Who = Annotated[Principal, Depends(who)]

    def _grid_of(cur: Any, report: GridReport) -> str:
        """The report's grid, as the worker's role sees it (row-level security): 403 outside."""
        if report.resident_id is not None:
            cur.execute("SELECT grid_code FROM hub.residents WHERE resident_id = %s",
                        (report.resident_id,))
            row = cur.fetchone()
            if row is None or (report.grid_code or row["grid_code"]) != row["grid_code"]:
                raise HTTPException(403, f"{report.resident_id} is not a resident of your grids")
            return row["grid_code"]
        if report.grid_code is None:
            raise HTTPException(422, "give resident_id, or grid_code for a person found")
        cur.execute("SELECT 1 FROM hub.grid_worker_grids WHERE db_role = current_user"
                    " AND grid_code = %s", (report.grid_code,))
        if cur.fetchone() is None:
            raise HTTPException(403, f"grid {report.grid_code} is not one of yours")
        return report.grid_code

    def _known(cur: Any, resident: str | None) -> dict[str, Any]:
        if resident is None:
            return {}
        cur.execute("SELECT id_number_sealed AS id_number, name, birth_date,"
                    " residence_address AS address FROM hub.residents WHERE resident_id = %s",
                    (resident,))
        return ids.open_document(process_keyring(), dict(cur.fetchone()))

    @router.post("/grid/reports", status_code=201, response_model=ReportReceipt,
                 summary="a grid worker reports what they saw (own grids only)",
                 responses=SOME_PRINCIPALS | REFUSED_REPORT)
    def report(principal: Who, body: GridReport) -> ReportReceipt:
        if principal.kind != "grid_worker":
            raise HTTPException(403, f"a {principal.kind} principal may not do this")
        source = reporting_source()
        report_id = "GR" + uuid.uuid4().hex[:22]
        origin = {"api": "/grid/reports", "principal": principal.name}
        try:
            publisher = reports.get()
            with transaction(principal) as cur:
                grid = _grid_of(cur, body)
                cur.execute("RESET ROLE")
                columns = report_columns(body, report_id, grid, principal.name,
                                         _known(cur, body.resident_id))
                try:
                    event = to_event(source, columns, origin)
                except MappingError as error:
                    raise _refuse(publisher, origin, columns, "mapping", str(error)) from None
                cur.execute(sql.SQL("SET LOCAL ROLE {}").format(
                    sql.Identifier(principal.db_role)))
                try:
                    cur.execute("INSERT INTO hub.grid_reports (report_id, kind, resident_id,"
                                " grid_code, fields, event_id, principal)"
                                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                                (report_id, body.kind, body.resident_id, grid,
                                 sorted(body.model_dump(exclude_none=True)), event["id"],
                                 principal.name))
                except psycopg2.errors.InsufficientPrivilege as error:
                    raise HTTPException(403, f"the store refuses the report: {error}") from None
                audit(cur, principal, f"report {body.kind}",
                      [body.resident_id] if body.resident_id else [],
                      sorted(body.model_dump(exclude_none=True)), f"grid report {report_id}")
                try:
                    publisher.publish(event)
                except InvalidEventError as error:
                    raise _refuse(publisher, origin, columns, "schema", str(error)) from None
                publisher.flush(WAIT_SECONDS)
        except HubError as error:  # the broker unreachable, or it did not acknowledge
            raise HTTPException(503, f"report not recorded: {error}") from None
        return ReportReceipt(report_id=report_id, event_id=event["id"], kind=body.kind,
                             resident_id=body.resident_id, grid_code=grid)

    return router
