"""hub.indicators over the merged sample city: counts agree with ones computed independently
from the store in SQL; the analysts' role never sees a count of 1..k below the township level
and cannot read the raw table; the warnings command, and GET /indicators and /warnings."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from cli.indicators import run_warnings
from deploy.postgres import autocommit_cursor
from deploy.settings import HubSettings
from streams.grid_units import CODE_LENGTH, LEVELS
from streams.indicators import months_through
from tests.integration.api_stack import (
    ANALYST,
    DEPARTMENTS,
    SAMPLE_LAST_MONTH,
    STEWARD,
    Served,
    api_over_sample,
)
from tests.integration.conftest import query

MONTHS = months_through(SAMPLE_LAST_MONTH, 36)
RANGE = (MONTHS[0], MONTHS[-1])

# Each resident's flows, in SQL of its own: (resident, indicator, month)
FLOWS = r"""
WITH h AS (SELECT resident_id, attribute, value, valid_from FROM hub.resident_history
            WHERE valid_from ~ '^[0-9]{4}-[0-9]{2}')
SELECT resident_id, 'pensions_started', left(valid_from, 7) FROM h
 WHERE attribute = 'pension' AND value ->> 'status' = 'active'
UNION SELECT resident_id, 'pensions_stopped', left(valid_from, 7) FROM h
 WHERE attribute = 'pension' AND value ->> 'status' = 'stopped'
UNION SELECT resident_id, 'floating_registrations', left(valid_from, 7) FROM h
 WHERE attribute = 'population_type' AND value #>> '{}' = 'floating'
UNION SELECT resident_id, 'residence_permits', left(valid_from, 7) FROM h
 WHERE attribute = 'residence_permit'
UNION SELECT resident_id, 'employment_new', left(valid_from, 7) FROM h
 WHERE attribute = 'employment'
UNION SELECT resident_id, 'births', left(birth_date, 7) FROM hub.residents
 WHERE birth_date ~ '^[0-9]{4}-[0-9]{2}'
UNION SELECT resident_id, 'deaths', left(min(valid_from), 7) FROM hub.resident_history
 WHERE attribute = 'life_status' AND value #>> '{}' = 'deceased' GROUP BY 1, 2
HAVING min(valid_from) ~ '^[0-9]{4}-[0-9]{2}'
UNION SELECT resident_id, 'dibao_new', left(min(valid_from), 7) FROM hub.resident_history
 WHERE attribute = 'dibao' GROUP BY 1, 2 HAVING min(valid_from) ~ '^[0-9]{4}-[0-9]{2}'
"""
# living at the end of the last month, by current grid (the latest residence)
LIVING = """
SELECT r.grid_code FROM hub.residents r
 WHERE r.grid_code IS NOT NULL
   AND (r.birth_date IS NULL OR left(r.birth_date || '-01', 7) <= %(m)s)
   AND NOT EXISTS (SELECT 1 FROM hub.resident_history h WHERE h.resident_id = r.resident_id
                     AND h.attribute = 'life_status' AND h.value #>> '{}' = 'deceased'
                     AND left(h.valid_from || '-01', 7) <= %(m)s)
   AND EXISTS (SELECT 1 FROM hub.resident_history h WHERE h.resident_id = r.resident_id
                 AND h.attribute = 'residence_address' AND left(h.valid_from || '-01', 7) <= %(m)s)
"""


@pytest.fixture(scope="module")
def api(stack: HubSettings) -> Iterator[Served]:
    with api_over_sample(stack) as served:
        yield served


@pytest.fixture(scope="module")
def settings(api: Served) -> HubSettings:
    return api.settings


def stored(settings: HubSettings) -> dict[tuple[str, str, str, str], int]:
    """The stored non-zero counts (a withheld 0 is a row too)."""
    return {(lv, u, i, m): v for lv, u, i, m, v in query(
        settings, "SELECT level, unit_code, indicator, month, value FROM hub.indicators"
                  " WHERE value <> 0")}


def by_unit(grid_counts: Counter) -> Counter:
    totals: Counter = Counter()
    for (grid, *rest), value in grid_counts.items():
        for level in LEVELS:
            totals[(level, grid[:CODE_LENGTH[level]], *rest)] += value
    return totals


def test_flows_agree_with_counts_from_the_store(settings: HubSettings) -> None:
    """Where every resident with that flow that month lived at one address only (so their
    current grid is where it happened), the counts of every unit agree."""
    moved = {r for (r,) in query(settings, "SELECT resident_id FROM hub.resident_history WHERE"
                                           " attribute = 'residence_address' GROUP BY 1"
                                           " HAVING count(DISTINCT value) > 1")}
    grid_of = dict(query(settings, "SELECT resident_id, grid_code FROM hub.residents"))
    flows = [f for f in query(settings, FLOWS) if f[2] and RANGE[0] <= f[2] <= RANGE[1]]
    unsure = {(i, m) for r, i, m in flows if r in moved}
    expected = by_unit(Counter((grid_of[r], i, m) for r, i, m in flows
                               if grid_of.get(r) and (i, m) not in unsure))
    found = stored(settings)
    cells = {(i, m) for _, i, m in flows} - unsure
    compared = {k: v for k, v in found.items() if (k[2], k[3]) in cells}
    assert compared == dict(expected)
    assert len(cells) >= 10 and sum(v for k, v in compared.items() if k[0] == "district") >= 20


def test_population_of_the_last_month_agrees_with_the_residents(settings: HubSettings) -> None:
    expected = by_unit(Counter((g, "population", SAMPLE_LAST_MONTH) for (g,) in query(
        settings, LIVING, {"m": SAMPLE_LAST_MONTH})))
    found = {k: v for k, v in stored(settings).items()
             if k[2] == "population" and k[3] == SAMPLE_LAST_MONTH}
    assert found == dict(expected) and sum(expected.values()) > 4 * 100


def test_analysts_never_see_a_small_count_below_the_township(settings: HubSettings) -> None:
    k = settings.small_cell_k
    with autocommit_cursor(settings, "sanwang_analyst") as cur:
        cur.execute("SELECT level, value, withheld FROM hub.analyst_indicators")
        rows = cur.fetchall()
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SELECT value FROM hub.indicators")
    below = [(value, withheld) for level, value, withheld in rows
             if level in ("community", "grid")]
    assert not [v for v, _ in below if v is not None and 1 <= v <= k]
    assert sum(1 for _, withheld in below if withheld) > 100  # the sample has many
    assert [v for level, v, _ in rows if level == "district" and v is not None and v <= k]


def test_warnings_command_prints_json_objects(settings: HubSettings,
                                              capsys: pytest.CaptureFixture) -> None:
    args = argparse.Namespace(month=None, level=None, json=True)
    assert run_warnings(args, settings) == 0
    lines = capsys.readouterr().out.splitlines()
    for line in lines:
        warning = json.loads(line)
        assert {"level", "unit_code", "unit_name", "indicator", "month", "value", "expected",
                "kind", "score", "explanation"} <= set(warning)
        if warning["level"] in ("community", "grid"):
            assert warning["value"] is None or warning["value"] > settings.small_cell_k


def test_api_indicators_as_json_and_csv(api: Served) -> None:
    rows = api.get("/indicators", ANALYST, level="grid").json()
    assert rows and {r["level"] for r in rows} == {"grid"}
    k = api.settings.small_cell_k
    assert not [r for r in rows if r["value"] is not None and 1 <= r["value"] <= k]
    district = rows[0]["unit_code"][:6]
    children = api.get("/indicators", ANALYST, parent=district).json()
    assert children and {r["level"] for r in children} == {"township"}
    as_csv = api.get("/indicators", ANALYST, level="grid", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    read = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(read) == len(rows)
    assert not [r for r in read if r["value"] and 1 <= int(r["value"]) <= k]
    by_accept = httpx_get(api, "/indicators", {"Accept": "text/csv"}, level="grid")
    assert by_accept.text == as_csv.text
    assert api.get("/indicators", STEWARD).status_code == 403


def test_api_warnings(api: Served) -> None:
    answer = api.get("/warnings", ANALYST)
    assert answer.status_code == 200 and isinstance(answer.json(), list)
    assert api.get("/warnings", ANALYST, month="1999-01").status_code == 404
    assert api.get("/warnings", STEWARD).status_code == 403


def httpx_get(api: Served, path: str, headers: dict[str, str], **params: Any) -> Any:
    import httpx

    return httpx.get(api.url + path, params=params, headers={**api.auth(ANALYST), **headers},
                     timeout=60)


def test_the_records_behind_a_count_for_entitled_principals_only(api: Served) -> None:
    """The records behind a unit-month's count: the steward's name exactly the residents it
    counts; a department's only its own; analysts and grid workers are refused."""
    ((unit, indicator, month, value),) = query(
        api.settings, "SELECT unit_code, indicator, month, value FROM hub.indicators"
                      " WHERE level = 'community' AND indicator = 'population'"
                      " ORDER BY value DESC, unit_code, month DESC LIMIT 1")
    cell = {"unit": unit, "indicator": indicator, "month": month, "purpose": "核查预警"}
    answer = api.get("/warnings/records", STEWARD, **cell)
    assert answer.status_code == 200, answer.text
    behind = answer.json()
    assert behind["residents"] == value and len(behind["records"]) >= value
    owners = dict(query(api.settings, "SELECT ref, resident_id FROM hub.source_links"))
    assert len({owners[ref] for ref in behind["records"]}) == value
    police = api.get("/warnings/records", DEPARTMENTS["police"], **cell).json()["records"]
    assert police and set(police) < set(behind["records"])
    assert all(ref.startswith("police:") for ref in police)
    for refused in (ANALYST, api.grid_workers[0]):
        assert api.get("/warnings/records", refused, **cell).status_code == 403
    assert api.get("/warnings/records", STEWARD, **{**cell, "unit": "511802999"}
                   ).status_code == 404
    assert api.get("/warnings/records", STEWARD, **{**cell, "month": "1999-01"}
                   ).status_code == 404
    assert query(api.settings, "SELECT count(*) FROM hub.audit_log"
                               " WHERE action = 'warning-records'") == [(2,)]
