"""The query API (FastAPI): department lookups, analyst aggregates and search, grid workers'
own residents, stewards' queues. Every read of personal data is audited before it is answered.

Authentication: `Authorization: Bearer <token>` of a principal (`sanwang api add-principal`).
401 without a valid token, 403 outside the principal's rights, 404 for a resident (or a steward's
record) the store does not hold, 409 for a split the store's grouping refuses, 422 for bad
parameters; each operation's responses list every status it answers (api/responses.py).

(No `from __future__ import annotations` here: FastAPI must see the dependency types that
`create_app` defines locally.)
"""


import csv
import datetime
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import make_asgi_app
from psycopg2 import sql
from psycopg2.extras import RealDictCursor
from psycopg2.pool import ThreadedConnectionPool
from pydantic import BaseModel, Field

from api.access import Principal, audit, entitled_fields, principal_of
from api.console import console_router
from api.grid_reports import ReportPublisher, grid_reports_router
from api.indicators import indicators_router
from api.metrics import REQUEST_SECONDS, REQUESTS
from api.responses import REFUSED_DECISION, SOME_PRINCIPALS, errors_as_json, not_found
from api.tasks import tasks_router
from deploy.id_keys import process_keyring
from schemas.departments import all_departments
from streams import id_protection as ids
from streams import steward
from streams.relations import relations_of

TEXT = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
RESIDENT_ID = Annotated[str, Path(pattern=r"^R[0-9a-f]{15}$", description="resident id")]
PURPOSE = Annotated[str, Query(min_length=2, max_length=200, pattern=TEXT,
                               description="declared purpose of the read (audited)")]
LIMIT = Annotated[int, Query(ge=1, le=500)]
OFFSET = Annotated[int, Query(ge=0, le=10_000_000)]
LEVELS = {"district": "population_by_district", "township": "population_by_township",
          "community": "population_by_community", "grid": "population_by_grid"}
RECORD = rf"^({'|'.join(all_departments())}):[^\x00]{{1,64}}$"
READERS, WRITERS = 8, 2  # database connections for reads and for stewards' decisions
POOL_WAIT_SECONDS = 30.0
# a steward's decision the store refuses: what it names is not there, or its grouping forbids it
REFUSAL_STATUS = {steward.UnknownToTheStore: 404, steward.RefusedByTheGrouping: 409}


class Page(BaseModel):
    items: list[dict[str, Any]]
    limit: int
    offset: int
    next_offset: int | None


class ChangesPage(BaseModel):
    items: list[dict[str, Any]]
    next_after: int | None  # pass as `after` for the next page; None: nothing newer yet


class PairDecision(BaseModel):
    a: str = Field(pattern=RECORD, description="record source:record_id")
    b: str = Field(pattern=RECORD)
    note: str | None = Field(default=None, max_length=500, pattern=TEXT)


class SplitDecision(BaseModel):
    resident_id: str = Field(pattern=r"^R[0-9a-f]{15}$")
    records: list[Annotated[str, Field(pattern=RECORD)]] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=500, pattern=TEXT)


class ResidentValues(BaseModel):
    resident_id: str
    as_of: datetime.date | None  # the values valid that day; None: the current ones
    values: dict[str, Any]  # the principal's entitled fields (a steward: all)


class DecisionOutcome(BaseModel):
    changes: dict[str, int]  # how many residents the decision created, changed, removed...


class CSVResponse(PlainTextResponse):
    media_type = "text/csv"


class BlockingPool:
    """A connection pool that makes a request wait for a free connection instead of failing
    (psycopg2's pools raise PoolError when exhausted)."""

    def __init__(self, size: int, dsn: str) -> None:
        self._pool = ThreadedConnectionPool(1, size, dsn)
        self._free = threading.BoundedSemaphore(size)

    def getconn(self) -> Any:
        if not self._free.acquire(timeout=POOL_WAIT_SECONDS):
            raise HTTPException(503, "the store is busy; try again")
        return self._pool.getconn()

    def putconn(self, conn: Any) -> None:
        self._pool.putconn(conn)
        self._free.release()


def _page(items: list[dict[str, Any]], limit: int, offset: int) -> Page:
    more = len(items) > limit
    return Page(items=items[:limit], limit=limit, offset=offset,
                next_offset=offset + limit if more else None)


def create_app(dsn: str, steward_dsn: str, prometheus_url: str | None = None,
               reports: ReportPublisher | None = None) -> FastAPI:
    """The API over the store: reads as `dsn` (the `sanwang_api` role); stewards' decisions,
    which cluster the store again, as `steward_dsn` (a role that writes the store); with
    `prometheus_url`, the browser console at /console too; with `reports`, grid workers'
    reports (POST /grid/reports) published through it."""
    app = FastAPI(title="Sanwang Hub query API", version="1",
                  description=__doc__)
    app.mount("/metrics", make_asgi_app())

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Any:
        started = time.monotonic()
        response = await call_next(request)
        route = request.scope.get("route")
        name = route.path if route is not None else "unmatched"
        REQUESTS.labels(name, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(name).observe(time.monotonic() - started)
        return response

    pool = BlockingPool(READERS, dsn)
    writers = BlockingPool(WRITERS, steward_dsn)
    bearer = HTTPBearer(auto_error=False)

    @contextmanager
    def transaction(principal: Principal | None = None) -> Iterator[Any]:
        conn = pool.getconn()
        try:
            with conn, conn.cursor(cursor_factory=RealDictCursor) as cur:
                if principal is not None and principal.db_role:
                    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(
                        sql.Identifier(principal.db_role)))
                yield cur
        finally:
            pool.putconn(conn)

    def who(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
            ) -> Principal:
        if credentials is None:
            raise HTTPException(401, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        with transaction() as cur:
            found = principal_of(cur, credentials.credentials)
        if found is None:
            raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        return found

    Who = Annotated[Principal, Depends(who)]
    if prometheus_url is not None:
        app.include_router(console_router(prometheus_url, who, transaction))
    if reports is not None:
        app.include_router(grid_reports_router(who, transaction, reports))
    app.include_router(tasks_router(who, transaction))
    app.include_router(indicators_router(who, transaction))

    def only(principal: Principal, *kinds: str) -> None:
        if principal.kind not in kinds:
            raise HTTPException(403, f"a {principal.kind} principal may not do this")

    def values_of(cur: Any, resident: str, as_of: datetime.date | None) -> dict[str, Any]:
        if as_of is None:
            cur.execute("SELECT id_number_sealed, grid_code FROM hub.residents"
                        " WHERE resident_id = %s", (resident,))
            row = cur.fetchone()
            if row is None:
                raise HTTPException(404, f"no resident {resident}")
            cur.execute("SELECT attribute, value FROM hub.golden_values WHERE resident_id = %s",
                        (resident,))
            values = {r["attribute"]: r["value"] for r in cur.fetchall()}
            return ids.open_document(process_keyring(), {
                **values, "id_number": row["id_number_sealed"], "grid_code": row["grid_code"],
                "relations": relations_of(cur, resident)})
        cur.execute("SELECT attribute, value FROM hub.resident_as_of(%s, %s)", (resident, as_of))
        rows = cur.fetchall()
        if not rows:
            raise HTTPException(404, f"no resident {resident} with values as of {as_of}")
        return ids.open_document(process_keyring(), {r["attribute"]: r["value"] for r in rows})

    @app.get("/residents/lookup", summary="a department looks a resident up by ID number",
             responses=SOME_PRINCIPALS | not_found("no resident holds that ID number (then)"))
    def lookup(principal: Who, purpose: PURPOSE,
               id_number: Annotated[str, Query(pattern=r"^[0-9]{17}[0-9Xx]$")],
               as_of: datetime.date | None = None) -> ResidentValues:
        only(principal, "department")
        with transaction() as cur:
            cur.execute("SELECT resident_id FROM hub.residents WHERE id_number_hash = %s",
                        (ids.lookup_hash(process_keyring(), id_number.upper()),))
            row = cur.fetchone()
            if row is None:
                raise HTTPException(404, "no resident with that ID number")
            return _entitled(cur, principal, row["resident_id"], as_of, purpose, "lookup")

    def _entitled(cur: Any, principal: Principal, resident: str,
                  as_of: datetime.date | None, purpose: str, action: str) -> ResidentValues:
        values = values_of(cur, resident, as_of)
        fields = entitled_fields(principal, sorted(values))
        answer = {f: values.get(f) for f in fields}
        audit(cur, principal, action, [resident], fields, purpose)
        return ResidentValues(resident_id=resident, as_of=as_of, values=answer)

    @app.get("/residents/{resident_id}", summary="a resident's values (entitled fields)",
             responses=SOME_PRINCIPALS | not_found("no such resident (then)"))
    def resident(principal: Who, resident_id: RESIDENT_ID, purpose: PURPOSE,
                 as_of: datetime.date | None = None) -> ResidentValues:
        only(principal, "department", "steward")
        with transaction() as cur:
            return _entitled(cur, principal, resident_id, as_of, purpose, "resident")

    @app.get("/residents/{resident_id}/access-log", summary="who looked at this resident",
             responses=SOME_PRINCIPALS)
    def access_log(principal: Who, resident_id: RESIDENT_ID, purpose: PURPOSE,
                   limit: LIMIT = 50, offset: OFFSET = 0) -> Page:
        only(principal, "steward")
        with transaction() as cur:
            cur.execute("SELECT principal, action, fields, purpose, at FROM hub.audit_log"
                        " WHERE %s = ANY(resident_ids) ORDER BY audit_id"
                        " LIMIT %s OFFSET %s", (resident_id, limit + 1, offset))
            items = [dict(r) for r in cur.fetchall()]
            audit(cur, principal, "access-log", [resident_id], ["audit_log"], purpose)
        return _page(items, limit, offset)

    @app.get("/changes", summary="changes of the residents a department serves",
             responses=SOME_PRINCIPALS)
    def changes(principal: Who, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                limit: LIMIT = 100) -> ChangesPage:
        only(principal, "department")
        with transaction() as cur:
            cur.execute("""
                SELECT o.seq, o.resident_id, o.change, o.created_at FROM hub.change_outbox o
                 WHERE o.seq > %s AND o.change <> 'finding' AND EXISTS (
                       SELECT 1 FROM hub.source_links l
                        WHERE l.resident_id = o.resident_id AND l.source = %s)
                 ORDER BY o.seq LIMIT %s""", (after, principal.department, limit + 1))
            items = [dict(r) for r in cur.fetchall()]
        more = len(items) > limit
        return ChangesPage(items=items[:limit], next_after=items[limit - 1]["seq"] if more
                           else None)

    @app.get("/analytics/population", summary="counts by one of the four grid levels",
             responses=SOME_PRINCIPALS)
    def population(principal: Who,
                   level: Annotated[str, Query(pattern="^(district|township|community|grid)$")]
                   = "district") -> list[dict[str, Any]]:
        only(principal, "analyst")
        with transaction() as cur:
            cur.execute(sql.SQL("SELECT * FROM hub.{} ORDER BY 1, 2, 3, 4").format(
                sql.Identifier(LEVELS[level])))
            return [dict(r) for r in cur.fetchall()]

    @app.get("/analytics/findings", summary="cross-department findings (ID numbers masked)",
             responses=SOME_PRINCIPALS)
    def findings(principal: Who, purpose: PURPOSE,
                 kind: Annotated[str | None, Query(max_length=64, pattern=TEXT)] = None,
                 limit: LIMIT = 50, offset: OFFSET = 0) -> Page:
        only(principal, "analyst")
        with transaction() as cur:
            cur.execute("SELECT * FROM hub.analyst_findings WHERE %(k)s::text IS NULL OR"
                        " kind = %(k)s ORDER BY kind, resident_id LIMIT %(l)s OFFSET %(o)s",
                        {"k": kind, "l": limit + 1, "o": offset})
            items = [dict(r) for r in cur.fetchall()]
            _audit_rows(cur, principal, "findings", items[:limit], purpose)
        return _page(items, limit, offset)

    def _audit_rows(cur: Any, principal: Principal, action: str, items: list[dict[str, Any]],
                    purpose: str) -> None:
        fields = sorted(items[0]) if items else []
        audit(cur, principal, action, [i["resident_id"] for i in items], fields, purpose)

    def _search(cur: Any, name: str | None, township_code: str | None, limit: int,
                offset: int) -> list[dict[str, Any]]:
        cur.execute("SELECT * FROM hub.analyst_residents"
                    " WHERE (%(n)s::text IS NULL OR name LIKE %(n)s || '%%')"
                    " AND (%(t)s::text IS NULL OR township_code = %(t)s)"
                    " ORDER BY resident_id LIMIT %(l)s OFFSET %(o)s",
                    {"n": name, "t": township_code, "l": limit, "o": offset})
        return [dict(r) for r in cur.fetchall()]

    Name = Annotated[str | None, Query(min_length=1, max_length=50, pattern=TEXT)]
    Township = Annotated[str | None, Query(pattern=r"^[0-9]{9}$", description="a township's "
                                           "code: the first 9 digits of its grids' codes")]

    @app.get("/analytics/residents", summary="masked search by name prefix and township",
             responses=SOME_PRINCIPALS)
    def search(principal: Who, purpose: PURPOSE, name: Name = None,
               township_code: Township = None, limit: LIMIT = 50, offset: OFFSET = 0) -> Page:
        only(principal, "analyst")
        with transaction() as cur:
            items = _search(cur, name, township_code, limit + 1, offset)
            _audit_rows(cur, principal, "search", items[:limit], purpose)
        return _page(items, limit, offset)

    @app.get("/analytics/residents.csv", response_class=CSVResponse,
             responses=errors_as_json(SOME_PRINCIPALS),
             summary="CSV export of the masked search (at most 100,000 rows)")
    def export(principal: Who, purpose: PURPOSE, name: Name = None,
               township_code: Township = None) -> CSVResponse:
        only(principal, "analyst")
        with transaction() as cur:
            items = _search(cur, name, township_code, 100_000, 0)
            _audit_rows(cur, principal, "export", items, purpose)
        out = io.StringIO()
        if items:
            writer = csv.DictWriter(out, fieldnames=list(items[0]))
            writer.writeheader()
            writer.writerows(items)
        return CSVResponse(out.getvalue())

    @app.get("/grid/residents", summary="a grid worker's own residents (row-level security)",
             responses=SOME_PRINCIPALS)
    def grid_residents(principal: Who, purpose: PURPOSE, limit: LIMIT = 50,
                       offset: OFFSET = 0) -> Page:
        only(principal, "grid_worker")
        with transaction(principal) as cur:
            cur.execute("SELECT resident_id, id_number_masked, name, sex, birth_date,"
                        " residence_address, phone, life_status, grid_code FROM hub.residents"
                        " ORDER BY resident_id"
                        " LIMIT %s OFFSET %s", (limit + 1, offset))
            items = [dict(r) for r in cur.fetchall()]
            _audit_rows(cur, principal, "grid", items[:limit], purpose)
        return _page(items, limit, offset)

    @app.get("/steward/conflicts", summary="open conflicts", responses=SOME_PRINCIPALS)
    def conflicts(principal: Who, purpose: PURPOSE, limit: LIMIT = 50,
                  offset: OFFSET = 0) -> Page:
        only(principal, "steward")
        with transaction() as cur:
            items = steward.open_conflicts(cur.connection, limit + 1, offset)
            _audit_rows(cur, principal, "conflicts", items[:limit], purpose)
        return _page(items, limit, offset)

    @app.get("/steward/review", summary="possible matches to review",
             responses=SOME_PRINCIPALS)
    def review(principal: Who, limit: LIMIT = 50, offset: OFFSET = 0) -> Page:
        only(principal, "steward")
        with transaction() as cur:
            items = steward.open_reviews(cur.connection, limit + 1, offset)
        return _page(items, limit, offset)

    def _decide(principal: Principal, action: Any, *args: Any) -> DecisionOutcome:
        only(principal, "steward")
        conn = writers.getconn()
        try:
            summary = action(conn, *args)
        except steward.StewardError as error:
            raise HTTPException(REFUSAL_STATUS.get(type(error), 422), str(error)) from None
        finally:
            writers.putconn(conn)
        return DecisionOutcome(changes=dict(summary.changes))

    DECIDES = SOME_PRINCIPALS | REFUSED_DECISION

    @app.post("/steward/confirm", summary="two records are one person", responses=DECIDES)
    def confirm(principal: Who, decision: PairDecision) -> DecisionOutcome:
        return _decide(principal, steward.confirm, decision.a, decision.b, principal.name,
                       decision.note)

    @app.post("/steward/reject", summary="two records are different people", responses=DECIDES)
    def reject(principal: Who, decision: PairDecision) -> DecisionOutcome:
        return _decide(principal, steward.reject, decision.a, decision.b, principal.name,
                       decision.note)

    @app.post("/steward/split", summary="take records out of a resident (sticks)",
              responses=DECIDES)
    def split(principal: Who, decision: SplitDecision) -> DecisionOutcome:
        return _decide(principal, steward.split, decision.resident_id, decision.records,
                       principal.name, decision.note)

    return app
