"""The query API over a merged sample city: one database per test module, the grid reference
loaded before the merge, a principal of every kind, and the real HTTP server (uvicorn) on a free
port (`api_over_sample`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg2

from api.access import add_principal
from api.app import create_app
from api.grid_reports import ReportPublisher
from deploy import postgres, prometheus
from deploy.settings import HubSettings
from streams.grids import read_grids_csv, store_grids
from streams.indicator_store import refresh_indicators
from streams.landing import ConsumedEvent, HubStore
from tests.integration.conftest import hub_settings, query
from tests.integration.workers import serving
from tests.samples import SAMPLE, sample_events

# principal names (what the audit log and the stewards' decisions record)
DEPARTMENTS = {"police": "police-hukou-system", "civil_affairs": "civil-affairs-system",
               "social_security": "social-security-system"}
ANALYST = "analyst-zhang"
SAMPLE_LAST_MONTH = "2026-11"  # the sample's latest facts are of 2026-10
STEWARD = "steward-li"


def merge_sample(stack: HubSettings) -> HubSettings:
    """A fresh database holding the grid reference and the whole sample, merged, and its
    indicators refreshed."""
    settings = hub_settings(stack)
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        store_grids(cur, read_grids_csv(SAMPLE / "grids.csv"))
    conn.close()
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(sample_events())])
    store.close()
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        refresh_indicators(cur, SAMPLE_LAST_MONTH, 36, settings.small_cell_k)
    conn.close()
    return settings


@dataclass
class Principals:
    """Every principal's token by name; the grid workers' grids and database roles."""

    tokens: dict[str, str] = field(default_factory=dict)
    grids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    db_roles: dict[str, str] = field(default_factory=dict)

    def add(self, cur: Any, name: str, kind: str, department: str | None = None,
            grids: tuple[str, ...] = ()) -> None:
        self.tokens[name] = add_principal(cur, name, kind, department, grids)
        if grids:
            self.grids[name] = grids
            cur.execute("SELECT db_role FROM hub.api_principals WHERE name = %s", (name,))
            self.db_roles[name] = cur.fetchone()[0]


def add_principals(settings: HubSettings) -> Principals:
    """A principal per department, an analyst, a steward and two grid workers, each with one of
    the two most populated grids. Names carry the database's name: grid workers' database roles
    belong to the whole cluster."""
    busiest = [g for (g,) in query(settings, "SELECT grid_code FROM hub.residents WHERE grid_code"
                                             " IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1"
                                             " LIMIT 2")]
    suffix = settings.database
    principals = Principals()
    conn = psycopg2.connect(postgres.dsn(settings, postgres.ADMIN_ROLE))
    with conn, conn.cursor() as cur:
        for department, name in DEPARTMENTS.items():
            principals.add(cur, name, "department", department)
        principals.add(cur, ANALYST, "analyst")
        principals.add(cur, STEWARD, "steward")
        principals.add(cur, f"gw1-{suffix}", "grid_worker", grids=(busiest[0],))
        principals.add(cur, f"gw2-{suffix}", "grid_worker", grids=(busiest[1],))
    conn.close()
    return principals


@dataclass
class Served:
    """The running API: its base URL, the store behind it and who may call it."""

    settings: HubSettings
    url: str
    principals: Principals

    @property
    def grid_workers(self) -> list[str]:
        return sorted(self.principals.grids)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.principals.tokens[name]}"}

    def get(self, path: str, who: str | None, **params: Any) -> httpx.Response:
        headers = self.auth(who) if who else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=60)

    def post(self, path: str, who: str | None, body: Any) -> httpx.Response:
        headers = self.auth(who) if who else {}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=60)


@contextmanager
def serving_api(settings: HubSettings) -> Iterator[str]:
    """The API as `sanwang api serve` runs it (uvicorn; reads as sanwang_api, stewards'
    decisions as sanwang_processor; the console over the stack's Prometheus; grid reports
    published to the settings' topics) on a free port; its base URL."""
    with serving(create_app(postgres.dsn(settings, "sanwang_api"),
                            postgres.dsn(settings, "sanwang_processor"),
                            prometheus.endpoint(settings), ReportPublisher(settings))) as url:
        yield url


@contextmanager
def api_over_sample(stack: HubSettings) -> Iterator[Served]:
    """A merged sample city of its own, its principals, and the API serving it."""
    settings = merge_sample(stack)
    principals = add_principals(settings)
    with serving_api(settings) as url:
        yield Served(settings, url, principals)
