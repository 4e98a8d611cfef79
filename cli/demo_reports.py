"""`sanwang demo`'s grid workers: a few reports through the query API (in-process, over the real
store and broker), each from a grid worker of the resident's own grid, so that the summary shows
the verification tasks they open for the departments that own the facts."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
from fastapi.testclient import TestClient

from api.access import add_principal
from api.app import create_app
from api.grid_reports import ReportPublisher
from deploy import postgres
from deploy.settings import HubSettings

# what the workers saw, in turn: a move the police do not know of yet, a death at home, a new
# phone (no owner: it stands in), and someone living at an address who never registered
BODIES: tuple[dict[str, Any], ...] = (
    {"kind": "moved_out", "moved_to": "四川省成都市武侯区玉林街道玉林北路社区8号"},
    {"kind": "deceased", "died_on": "2026-11-18"},
    {"kind": "phone_changed", "phone": "13800001234"},
    {"kind": "moved_in", "name": "新住户"},
)


def _residents(cur: Any, count: int) -> list[tuple[str, str, str]]:
    """(resident, grid, residence) of living residents the police placed, one per grid."""
    cur.execute("""
        SELECT DISTINCT ON (r.grid_code) r.resident_id, r.grid_code, r.residence_address
          FROM hub.residents r
          JOIN hub.golden_values v ON v.resident_id = r.resident_id
                                  AND v.attribute = 'residence_address' AND v.source = 'police'
         WHERE r.life_status = 'alive' AND r.grid_code IS NOT NULL
         ORDER BY r.grid_code, r.resident_id LIMIT %s""", (count,))
    return cur.fetchall()


def play_grid_reports(settings: HubSettings) -> int:
    """Post the reports; how many the API accepted."""
    conn = psycopg2.connect(postgres.dsn(settings, postgres.ADMIN_ROLE))
    tokens = []
    try:
        with conn, conn.cursor() as cur:
            chosen = _residents(cur, len(BODIES))
            for resident, grid, address in chosen:
                token = add_principal(cur, f"demo-gw-{grid}-{int(time.time())}", "grid_worker",
                                      grids=(grid,))
                tokens.append((token, resident, grid, address))
    finally:
        conn.close()
    app = create_app(postgres.dsn(settings, "sanwang_api"),
                     postgres.dsn(settings, "sanwang_processor"), None, ReportPublisher(settings))
    accepted = 0
    with TestClient(app) as client:
        for body, (token, resident, grid, address) in zip(BODIES, tokens, strict=False):
            about = ({"grid_code": grid, "address": address} if body["kind"] == "moved_in"
                     else {"resident_id": resident})
            answer = client.post("/grid/reports", headers={"Authorization": f"Bearer {token}"},
                                 json={"observed_on": time.strftime("%Y-%m-%d"), **body,
                                       **about})
            if answer.status_code == 201:
                accepted += 1
            else:
                print(f"    report {body['kind']} refused: {answer.text}")
    return accepted
