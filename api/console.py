"""The browser console at GET /console: an operators' view of the hub's processes (any valid
principal; numbers fetched server-side from Prometheus with the hub's metric names) and an
analysts' view of the store (analyst principals; the page itself calls /analytics/population,
/analytics/findings with a declared purpose, and /console/summary for counts); a grid worker's
report form (POST /grid/reports) and a department's verification tasks (api/tasks.py).

Mount inside `create_app`, reading as the API reads (the `sanwang_api` role's DSN):
`app.include_router(console_router(prometheus_url, dsn))`.

(No `from __future__ import annotations`: FastAPI must see the local dependency types.)
"""

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.access import Principal
from api.responses import ANY_PRINCIPAL, PROMETHEUS_DOWN, SOME_PRINCIPALS
from deploy.errors import ApiError

STATIC = Path(__file__).parent / "console"
ASSETS = {"app.js": "text/javascript", "trends.js": "text/javascript",
          "reports.js": "text/javascript", "style.css": "text/css"}
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:;"
                                      " frame-ancestors 'none'"}

# PromQL over the hub's metric names (streams/metrics.py, connectors/metrics.py)
CONSUMED_RATE = "sum(rate(sanwang_processor_events_consumed_total[1m]))"
MERGED_RATE = "sum(rate(sanwang_processor_events_stored_total[1m]))"
CONSUMED_TOTAL = "sum(sanwang_processor_events_consumed_total)"
MERGED_TOTAL = "sum(sanwang_processor_events_stored_total)"
LAG = "sum(max by (topic, partition) (sanwang_processor_consumer_lag))"
QUANTILES = {"p50": 0.5, "p99": 0.99}
BUCKETS = 'sanwang_processor_latency_seconds_bucket{stage="published_to_stored"}'
CONNECTOR_DEAD = "sum by (department, reason) (sanwang_connector_records_dead_lettered_total)"
PROCESSOR_DEAD = "sum by (reason) (sanwang_processor_dead_lettered_total)"

SUMMARY = """
SELECT count(*) FILTER (WHERE r.life_status IS DISTINCT FROM 'deceased') AS population,
       count(*) FILTER (WHERE r.life_status IS DISTINCT FROM 'deceased'
                          AND g.district IS NULL) AS unplaced,
       count(*) FILTER (WHERE r.life_status = 'deceased') AS deceased,
       (SELECT count(*) FROM hub.conflicts WHERE status = 'open') AS open_conflicts,
       (SELECT count(*) FROM hub.review_queue WHERE status = 'open') AS review_queue
  FROM hub.residents r LEFT JOIN hub.grids g USING (grid_code)"""


def latency(q: float, window: str | None) -> str:
    """The q-quantile of publication-to-merged over the window, or since the processes started
    (window None); `>= 0` drops the NaN of a histogram that did not grow."""
    buckets = BUCKETS if window is None else f"increase({BUCKETS}[{window}])"
    return f"histogram_quantile({q}, sum by (le) ({buckets})) >= 0"


class ConsoleUser(BaseModel):
    """Who the token belongs to; a grid worker's grids fill the report form's grid codes."""

    name: str
    kind: str
    department: str | None
    grids: list[str]


class PrometheusError(ApiError):
    """Prometheus did not answer the console's query."""


def _number(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _query(base: str, path: str, **params: Any) -> list[dict[str, Any]]:
    url = f"{base.rstrip('/')}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        raise PrometheusError(f"Prometheus at {base}: {error}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus at {base}: {body.get('error')}")
    return body["data"]["result"]


def _instant(base: str, expr: str, at: float) -> list[tuple[dict[str, str], float | None]]:
    return [(r["metric"], _number(r["value"][1])) for r in _query(base, "query", query=expr,
                                                                   time=at)]


def _scalar(base: str, expr: str, at: float) -> float | None:
    found = _instant(base, expr, at)
    return found[0][1] if found else None


def _series(base: str, expr: str, start: float, end: float, step: int) -> list[list[Any]]:
    found = _query(base, "query_range", query=expr, start=start, end=end, step=step)
    return [[t, _number(v)] for t, v in found[0]["values"]] if found else []


def _latency(base: str, window: str, at: float) -> dict[str, Any]:
    """Over the window where it grew there in view of Prometheus; else since the start (a
    histogram scraped first after its last observation never grows in view)."""
    for basis, span in (("window", window), ("since start", None)):
        found = {name: _scalar(base, latency(q, span), at) for name, q in QUANTILES.items()}
        if any(v is not None for v in found.values()):
            return {**found, "basis": basis}
    return {**dict.fromkeys(QUANTILES), "basis": None}


def ops_snapshot(base: str, minutes: int, now: float) -> dict[str, Any]:
    """What the operators' view shows: rates and lag now and over the last `minutes`, totals
    since the processes started, latency over the window, dead letters, scrape targets."""
    window, start, step = f"{minutes}m", now - minutes * 60, max(5, minutes * 60 // 120)
    dead = [{"source": m.get("department", "?"), "reason": m.get("reason", "?"), "count": v}
            for m, v in _instant(base, CONNECTOR_DEAD, now)]
    dead += [{"source": "processor", "reason": m.get("reason", "?"), "count": v}
             for m, v in _instant(base, PROCESSOR_DEAD, now)]
    return {
        "prometheus": base, "at": now, "minutes": minutes,
        "consumed_per_second": _scalar(base, CONSUMED_RATE, now),
        "merged_per_second": _scalar(base, MERGED_RATE, now),
        "consumed_total": _scalar(base, CONSUMED_TOTAL, now),
        "merged_total": _scalar(base, MERGED_TOTAL, now),
        "lag": _scalar(base, LAG, now),
        "latency_seconds": _latency(base, window, now),
        "dead_letters": sorted(dead, key=lambda d: (d["source"], d["reason"])),
        "processes": sorted(({"job": m.get("job", "?"), "instance": m.get("instance", "?"),
                              "up": v == 1} for m, v in _instant(base, "up", now)),
                            key=lambda p: (p["job"], p["instance"])),
        "series": {name: _series(base, expr, start, now, step) for name, expr in
                   (("consumed", CONSUMED_RATE), ("merged", MERGED_RATE), ("lag", LAG))},
    }


def console_router(prometheus_url: str, who: Callable[..., Principal],
                   transaction: Callable[..., AbstractContextManager[Any]]) -> APIRouter:
    """The console's page, assets and JSON routes, authenticated and reading the store the
    way the API does (`who` and `transaction` are the API's own)."""
    router = APIRouter(prefix="/console", tags=["console"])
    Who = Annotated[Principal, Depends(who)]

    @router.get("", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)

    def asset(name: str, media_type: str) -> Any:
        return lambda: FileResponse(STATIC / name, media_type=media_type, headers=HEADERS)

    for name, media_type in ASSETS.items():
        router.add_api_route(f"/{name}", asset(name, media_type), include_in_schema=False)

    @router.get("/me", summary="who the console's token belongs to", responses=ANY_PRINCIPAL)
    def me(principal: Who) -> ConsoleUser:
        grids: list[str] = []
        if principal.kind == "grid_worker":
            with transaction(principal) as cur:  # as their own role: their grids only
                cur.execute("SELECT grid_code FROM hub.grid_worker_grids"
                            " WHERE db_role = current_user ORDER BY grid_code")
                grids = [r["grid_code"] for r in cur.fetchall()]
        return ConsoleUser(name=principal.name, kind=principal.kind,
                           department=principal.department, grids=grids)

    @router.get("/ops", summary="the operators' numbers, from Prometheus",
                responses=ANY_PRINCIPAL | PROMETHEUS_DOWN)
    def ops(principal: Who, minutes: Annotated[int, Query(ge=5, le=1440)] = 15
            ) -> dict[str, Any]:
        try:
            return ops_snapshot(prometheus_url, minutes, time.time())
        except PrometheusError as error:
            raise HTTPException(502, str(error)) from None

    @router.get("/summary", summary="the store's counts for analysts (no personal data)",
                responses=SOME_PRINCIPALS)
    def summary(principal: Who) -> dict[str, int]:
        if principal.kind != "analyst":
            raise HTTPException(403, f"a {principal.kind} principal may not do this")
        with transaction() as cur:
            cur.execute(SUMMARY)
            return dict(cur.fetchone())

    return router
