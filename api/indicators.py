"""GET /indicators (JSON, or CSV by `Accept: text/csv` or `?format=csv`) and GET /warnings, for
analysts: the monthly indicators of the grid units as hub.analyst_indicators shows them (counts
of 1..k below the township level withheld), and the early warnings of a month.

(No `from __future__ import annotations`: FastAPI must see the local dependency types.)
"""

import csv
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.access import Principal, audit
from api.responses import SOME_PRINCIPALS, not_found
from streams.early_warnings import KINDS, EarlyWarning, early_warnings
from streams.grid_units import LEVELS
from streams.indicator_store import records_behind, stored_indicators
from streams.indicators import INDICATORS

LEVEL = f"^({'|'.join(LEVELS)})$"
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CODE = r"^[0-9]{6,14}$"
MOST_ROWS = 100_000
COLUMNS = ("level", "unit_code", "unit_name", "parent_code", "indicator", "month", "value",
           "withheld")


class IndicatorRow(BaseModel):
    level: str
    unit_code: str
    unit_name: str
    parent_code: str | None
    indicator: str
    month: str
    value: int | None  # None: a count of 1..k withheld
    withheld: bool


class RecordsBehind(BaseModel):
    """The records behind one unit's count of an indicator in a month (a warning's)."""

    unit_code: str
    indicator: str
    month: str
    residents: int  # the residents whose records are listed
    records: list[str]  # source:record_id


CSV_OR_JSON = {200: {"description": "the rows, as JSON or (Accept: text/csv, ?format=csv) CSV",
                     "content": {"text/csv": {"schema": {"type": "string"}}}}}


def indicators_router(who: Callable[..., Principal],
                      transaction: Callable[[], AbstractContextManager[Any]]) -> APIRouter:
    router = APIRouter(tags=["indicators"])
    Who = Annotated[Principal, Depends(who)]

    def analyst(principal: Principal) -> None:
        if principal.kind != "analyst":
            raise HTTPException(403, f"a {principal.kind} principal may not do this")

    @router.get("/indicators", summary="monthly indicators of grid units (small counts withheld)",
                response_model=list[IndicatorRow], responses=SOME_PRINCIPALS | CSV_OR_JSON)
    def indicators(principal: Who, request: Request,
                   level: Annotated[str | None, Query(pattern=LEVEL)] = None,
                   unit: Annotated[str | None, Query(pattern=CODE,
                                                     description="a unit's code")] = None,
                   parent: Annotated[str | None, Query(pattern=CODE, description="the units "
                                                       "under this one (drill down)")] = None,
                   indicator: Annotated[str | None, Query(
                       pattern=f"^({'|'.join(INDICATORS)})$")] = None,
                   format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None) -> Any:
        analyst(principal)
        with transaction() as cur:
            cur.execute("SELECT " + ", ".join(COLUMNS) + " FROM hub.analyst_indicators"
                        " WHERE (%(l)s::text IS NULL OR level = %(l)s)"
                        " AND (%(u)s::text IS NULL OR unit_code = %(u)s)"
                        " AND (%(p)s::text IS NULL OR parent_code = %(p)s)"
                        " AND (%(i)s::text IS NULL OR indicator = %(i)s)"
                        " ORDER BY level, unit_code, indicator, month LIMIT %(n)s",
                        {"l": level, "u": unit, "p": parent, "i": indicator, "n": MOST_ROWS})
            rows = [dict(r) for r in cur.fetchall()]
        wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get(
            "accept", ""))
        if not wants_csv:
            return rows
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return PlainTextResponse(out.getvalue(), media_type="text/csv")

    @router.get("/warnings", summary="early warnings of a month, each explained",
                responses=SOME_PRINCIPALS | not_found(
                    "no indicators refreshed yet, or none of that month"))
    def warnings(principal: Who, month: Annotated[str | None, Query(pattern=MONTH)] = None,
                 level: Annotated[str | None, Query(pattern=LEVEL)] = None,
                 kind: Annotated[str | None, Query(pattern=f"^({'|'.join(KINDS)})$")] = None
                 ) -> list[EarlyWarning]:
        analyst(principal)
        with transaction() as cur, cur.connection.cursor() as plain:
            stored = stored_indicators(plain)
        if stored is None:
            raise HTTPException(404, "no indicators yet: `sanwang indicators refresh` first")
        if month is not None and month not in stored.months:
            raise HTTPException(404, f"no indicators of {month}")
        found = early_warnings(stored.series, stored.months, stored.units, month,
                               stored.small_cell_k, stored.withheld)
        return [w for w in found if (level is None or w.level == level)
                and (kind is None or w.kind == kind)]

    @router.get("/warnings/records", summary="the records behind a warning (personal data)",
                description="The records (source:record_id) of the residents one unit's count "
                "of an indicator in a month counts: a warning's unit_code, indicator and month. "
                "A steward reads every department's; a department principal its own records "
                "only; analysts (counts only) and grid workers are refused. Audited.",
                responses=SOME_PRINCIPALS | not_found(
                    "no indicators refreshed yet, a month outside them, or no such unit"))
    def records(principal: Who,
                unit: Annotated[str, Query(pattern=CODE, description="a unit's code")],
                indicator: Annotated[str, Query(pattern=f"^({'|'.join(INDICATORS)})$")],
                month: Annotated[str, Query(pattern=MONTH)],
                purpose: Annotated[str, Query(min_length=2, max_length=200, pattern=r"^[^\x00]*$",
                                              description="declared purpose (audited)")]
                ) -> RecordsBehind:
        if principal.kind not in ("steward", "department"):
            raise HTTPException(403, f"a {principal.kind} principal may not read records")
        with transaction() as cur:
            with cur.connection.cursor() as plain:
                stored = stored_indicators(plain)
                if stored is None:
                    raise HTTPException(404, "no indicators yet: `sanwang indicators refresh` "
                                             "first")
                if month not in stored.months:
                    raise HTTPException(404, f"no indicators of {month}")
                if not any(code == unit for _, code in stored.units):
                    raise HTTPException(404, f"no unit {unit}")
                found = records_behind(plain, unit, indicator, month, principal.department)
            residents = sorted({resident for resident, _ in found})
            audit(cur, principal, "warning-records", residents, ["records"], purpose)
        return RecordsBehind(unit_code=unit, indicator=indicator, month=month,
                             residents=len(residents), records=[ref for _, ref in found])

    return router
