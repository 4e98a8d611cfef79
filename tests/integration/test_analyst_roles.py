"""What PostgreSQL itself lets each role see, whatever SQL it writes: analysts read masked views
and non-identifying columns only, grid workers' roles see their grids' rows only (row-level
security), and nobody, not even the schema's owner, changes the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from deploy.postgres import autocommit_cursor
from deploy.settings import HubSettings
from tests.differencing import worked_out
from tests.integration.api_stack import Principals, add_principals, merge_sample
from tests.integration.conftest import clear_id_numbers, query

MASKED = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")
LEVELS = ("district", "township", "community", "grid")
KEYS = {"district": ("district",), "township": ("district", "township"),
        "community": ("district", "township", "community"),
        "grid": ("district", "township", "community", "grid_code")}


@pytest.fixture(scope="module")
def store(stack: HubSettings) -> tuple[HubSettings, Principals]:
    """The merged sample city (grids loaded first) and its API principals."""
    settings = merge_sample(stack)
    return settings, add_principals(settings)


@pytest.fixture(scope="module")
def settings(store: tuple[HubSettings, Principals]) -> HubSettings:
    return store[0]


@pytest.fixture
def analyst(settings: HubSettings) -> Iterator[Any]:
    with autocommit_cursor(settings, "sanwang_analyst") as cur:
        yield cur


def rows_of(cur: Any, statement: str, params: tuple = ()) -> list[dict[str, Any]]:
    cur.execute(statement, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- analysts --------------------------------------------------------------------------------

def test_analysts_read_residents_with_masked_id_numbers(settings: HubSettings,
                                                        analyst: Any) -> None:
    clear = clear_id_numbers(settings)
    rows = rows_of(analyst, "SELECT * FROM hub.analyst_residents")
    assert sorted(r["resident_id"] for r in rows) == sorted(clear)
    assert "id_number" not in rows[0]
    for row in rows:
        number = clear[row["resident_id"]]
        if number is None:
            assert row["id_number_masked"] is None
            continue
        assert MASKED.match(row["id_number_masked"]), row
        assert row["id_number_masked"] == f"{number[:6]}********{number[-4:]}"
    assert sum(1 for r in rows if r["id_number_masked"]) > 0.9 * len(rows)
    placed = dict(query(settings, "SELECT resident_id, left(grid_code, 9) FROM hub.residents"))
    assert {r["resident_id"]: r["township_code"] for r in rows} == placed


def test_analysts_read_findings_masked(settings: HubSettings, analyst: Any) -> None:
    rows = rows_of(analyst, "SELECT * FROM hub.analyst_findings")
    assert len(rows) == query(settings, "SELECT count(*) FROM hub.findings")[0][0] > 0
    assert all(MASKED.match(r["id_number_masked"]) for r in rows)
    assert all(set(r["evidence"]) == {"records", "explanation"} for r in rows)


def test_analysts_may_read_the_non_identifying_columns(settings: HubSettings,
                                                       analyst: Any) -> None:
    analyst.execute("SELECT resident_id, name, sex, birth_date, life_status,"
                    " record_count, updated_at FROM hub.residents")
    assert len(analyst.fetchall()) == query(settings, "SELECT count(*) FROM hub.residents")[0][0]


@pytest.mark.parametrize("statement", [
    "SELECT id_number_sealed FROM hub.residents",
    "SELECT id_number_hash FROM hub.residents",
    "SELECT id_number_masked FROM hub.residents",  # the masked form through the view only
    "SELECT * FROM hub.residents",
    "SELECT resident_id FROM hub.residents WHERE id_number_hash = 'x'",  # no probing either
    "SELECT count(*) FROM hub.residents GROUP BY id_number_sealed",
    "SELECT value FROM hub.golden_values",
    "SELECT residence_address, phone FROM hub.residents",
    "SELECT grid_code FROM hub.residents",  # a resident's grid would recount small cells
    "SELECT * FROM hub.resident_profile",
    "SELECT * FROM hub.events",
    "SELECT * FROM hub.source_records",
    "SELECT * FROM hub.source_links",
    "SELECT * FROM hub.resident_history",
    "SELECT * FROM hub.resident_as_of('R000000000000000', current_date)",
    "SELECT * FROM hub.conflicts",
    "SELECT * FROM hub.findings",
    "SELECT * FROM hub.audit_log",
    "SELECT * FROM hub.api_principals",
    "INSERT INTO hub.audit_log (principal, action, resident_ids, fields, purpose)"
    " VALUES ('x', 'x', '{}', '{}', 'x')",
])
def test_analysts_cannot_reach_id_numbers_or_raw_records(analyst: Any, statement: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        analyst.execute(statement)


def test_population_counts_agree_across_the_four_levels(settings: HubSettings,
                                                        analyst: Any) -> None:
    """Each level's counts are the residents' own (counted here from the tables), except that
    below the township some are withheld (NULL): every count of 1..k, and beside them others,
    so that none can be worked out from the shown ones (tests/differencing.py)."""
    k = settings.small_cell_k
    levels = {level: rows_of(analyst, f"SELECT * FROM hub.population_by_{level}")
              for level in LEVELS}
    assert len(levels["district"]) < len(levels["township"]) < len(levels["community"]) \
        < len(levels["grid"])
    columns = [c for c, v in levels["district"][0].items() if isinstance(v, int)]
    assert "population" in columns and "deceased" in columns and len(columns) == 13
    people = query(settings, "SELECT g.district, g.township, g.community, r.grid_code,"
                             " r.life_status IS DISTINCT FROM 'deceased', r.sex"
                             " FROM hub.residents r JOIN hub.grids g USING (grid_code)")
    small = withheld = 0
    for depth, level in enumerate(LEVELS):
        expected: dict[tuple, dict[str, int]] = {}
        for person in people:
            key = person[:depth + 1]
            counts = expected.setdefault(key, {"population": 0, "deceased": 0, "male": 0})
            living, sex = person[4], person[5]
            counts["population" if living else "deceased"] += 1
            counts["male"] += living and sex == "M"
        for row in levels[level]:
            key = tuple(row[c] for c in KEYS[level])
            for column, count in expected.pop(key, {"population": 0, "deceased": 0,
                                                    "male": 0}).items():
                if row[column] is None:
                    assert level in ("community", "grid"), (level, key, column)
                    withheld += 1
                else:
                    assert row[column] == count, (level, key, column)
                    assert level in ("district", "township") or not 1 <= count <= k
                small += level in ("community", "grid") and 1 <= count <= k
        assert not expected, level  # every unit with residents has its row
    assert withheld > small > 10  # the sample has many small cells below the township
    for column in columns:
        shown, children = units_shown(levels, column)
        assert worked_out(shown, children) == {}, column


def units_shown(levels: dict[str, list[dict[str, Any]]], column: str
                ) -> tuple[dict[tuple, int | None], dict[tuple, list[tuple]]]:
    """One column of the population views as units (keyed by their names down the levels),
    and each unit's children."""
    shown: dict[tuple, int | None] = {}
    children: dict[tuple, list[tuple]] = {}
    for depth, level in enumerate(LEVELS):
        for row in levels[level]:
            key = tuple(row[c] for c in KEYS[level])
            shown[key] = row[column]
            if depth:
                children.setdefault(key[:-1], []).append(key)
    return shown, children


def test_a_count_two_views_show_is_withheld_alike_in_both(analyst: Any) -> None:
    """dibao and disability holders by grid are in the population view and the attribute view:
    the same counts, so the same cells withheld (one view must not give back the other's)."""
    by_grid = rows_of(analyst, "SELECT * FROM hub.population_by_grid")
    for attribute in ("dibao", "disability"):
        population = {r["grid_code"]: r[attribute] for r in by_grid if r[attribute] != 0}
        analyst.execute("SELECT grid_code, residents FROM hub.attribute_counts_by_grid"
                        " WHERE attribute = %s", (attribute,))
        holders = dict(analyst.fetchall())
        assert holders == population and None in holders.values(), attribute


# What the analysts' role may read. A relation granted to analysts that is not listed here fails
# the test below: decide first whether it can show a small count or a resident's grid.
ANALYST_COUNTS = {  # the level of its rows (None: read from the row) and its main count
    "analyst_indicators": (None, "value"), "analyst_population": (None, "population"),
    "population_by_district": ("district", "population"),
    "population_by_township": ("township", "population"),
    "population_by_community": ("community", "population"),
    "population_by_grid": ("grid", "population"),
    "attribute_counts_by_grid": ("grid", "residents")}
ANALYST_PERSONS = ("analyst_residents", "analyst_findings", "residents")
ANALYST_OTHER = ("grids", "small_cell_rule", "indicator_refresh")
FINER_THAN_TOWNSHIP = {"grid_code", "grid_name", "community", "residence_address", "coverage"}


def level_of(row: dict[str, Any], fixed: str | None) -> str:
    if fixed is not None:
        return fixed
    if "level" in row:
        return row["level"]
    return "grid" if row["grid_code"] else "community" if row["community"] else "township"


def test_every_relation_analysts_read_keeps_the_small_cell_rule(settings: HubSettings,
                                                                analyst: Any) -> None:
    readable = {name for (name,) in query(settings, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'hub' AND c.relkind IN ('r', 'v', 'm', 'p')
           AND has_any_column_privilege('sanwang_analyst', c.oid, 'SELECT')""")}
    assert readable == {*ANALYST_COUNTS, *ANALYST_PERSONS, *ANALYST_OTHER}
    k = settings.small_cell_k
    for relation, (fixed, main) in ANALYST_COUNTS.items():
        rows = rows_of(analyst, f"SELECT * FROM hub.{relation}")
        below = [r for r in rows if level_of(r, fixed) in ("community", "grid")]
        if fixed in ("district", "township"):
            assert rows and not below, relation
            continue
        assert len([r for r in below if r[main] is not None]) > 10, relation
        for row in below:
            counts = [v for v in row.values() if isinstance(v, int) and not isinstance(v, bool)]
            assert not [v for v in counts if 1 <= v <= k], (relation, row)
    for relation in ANALYST_PERSONS:
        columns = {name for (name,) in query(settings, """
            SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
               AND has_column_privilege('sanwang_analyst', a.attrelid, a.attnum, 'SELECT')""",
            (f"hub.{relation}",))}
        assert columns and not columns & FINER_THAN_TOWNSHIP, (relation, columns)
    groups = 0
    for (indicator, month), (shown, children) in indicator_units(analyst).items():
        assert worked_out(shown, children) == {}, (indicator, month)
        groups += any(v is None for v in shown.values())
    assert groups > 10  # indicators and months with withheld counts


def indicator_units(analyst: Any) -> dict[tuple[str, str], tuple[dict[str, int | None],
                                                                 dict[str, list[str]]]]:
    """hub.analyst_indicators as units shown and their children, per indicator and month."""
    found: dict[tuple[str, str], tuple[dict[str, int | None], dict[str, list[str]]]] = {}
    for row in rows_of(analyst, "SELECT * FROM hub.analyst_indicators"):
        shown, children = found.setdefault((row["indicator"], row["month"]), ({}, {}))
        shown[row["unit_code"]] = row["value"]
        if row["parent_code"]:
            children.setdefault(row["parent_code"], []).append(row["unit_code"])
    return found


# --- grid workers: row-level security --------------------------------------------------------

def as_role(settings: HubSettings, role: str, statement: str, params: tuple = ()
            ) -> list[tuple]:
    """Run `statement` the way the API runs a grid worker's query: logged in as sanwang_api,
    then SET ROLE to the worker's own role."""
    with autocommit_cursor(settings, "sanwang_api") as cur:
        cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        cur.execute(statement, params)
        return cur.fetchall()


def test_each_grid_workers_role_sees_only_its_grids_rows(
        store: tuple[HubSettings, Principals]) -> None:
    settings, principals = store
    seen = []
    for worker, role in sorted(principals.db_roles.items()):
        (grid,) = principals.grids[worker]
        rows = as_role(settings, role, "SELECT resident_id, grid_code FROM hub.residents")
        expected = query(settings, "SELECT resident_id, grid_code FROM hub.residents"
                                   " WHERE grid_code = %s", (grid,))
        assert len(expected) > 1
        assert sorted(rows) == sorted(expected)
        # a WHERE naming other grids finds nothing more
        assert as_role(settings, role, "SELECT count(*) FROM hub.residents WHERE grid_code"
                                       " <> %s OR grid_code IS NULL", (grid,)) == [(0,)]
        seen.append({r for r, _ in rows})
    assert not seen[0] & seen[1]
    with autocommit_cursor(settings, "sanwang_api") as cur:  # the API's own role, without SET ROLE
        everyone = rows_of(cur, "SELECT resident_id FROM hub.residents")
    assert len(everyone) == query(settings, "SELECT count(*) FROM hub.residents")[0][0]


@pytest.mark.parametrize("statement", [
    "SELECT id_number_sealed FROM hub.residents",
    "SELECT id_number_hash FROM hub.residents",
    "SELECT * FROM hub.residents",
    "SELECT * FROM hub.analyst_residents",
    "SELECT * FROM hub.resident_history",
    "SELECT * FROM hub.audit_log",
    "INSERT INTO hub.grid_worker_grids (db_role, grid_code) VALUES (current_user, '1')",
    "UPDATE hub.residents SET grid_code = grid_code",
])
def test_grid_workers_roles_reach_nothing_else(store: tuple[HubSettings, Principals],
                                               statement: str) -> None:
    settings, principals = store
    role = sorted(principals.db_roles.values())[0]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(settings, role, statement)


# --- the audit log is append-only ------------------------------------------------------------

CHANGES = ["UPDATE hub.audit_log SET purpose = 'nothing to see'",
           "DELETE FROM hub.audit_log",
           "DELETE FROM hub.audit_log WHERE audit_id = (SELECT min(audit_id) FROM hub.audit_log)"]


@pytest.fixture(scope="module")
def audited(settings: HubSettings) -> list[tuple]:
    """Two audit rows, written as the API writes them (sanwang_api)."""
    with autocommit_cursor(settings, "sanwang_api") as cur:
        for purpose in ("first", "second"):
            cur.execute("INSERT INTO hub.audit_log (principal, action, resident_ids, fields,"
                        " purpose) VALUES ('p', 'lookup', '{R000000000000000}', '{name}', %s)",
                        (purpose,))
    return query(settings, "SELECT * FROM hub.audit_log ORDER BY audit_id")


@pytest.mark.parametrize("statement", [*CHANGES, "TRUNCATE hub.audit_log"])
def test_not_even_the_owner_changes_the_audit_log(settings: HubSettings, audited: list[tuple],
                                                  statement: str) -> None:
    with autocommit_cursor(settings, "sanwang_owner") as cur, pytest.raises(
            psycopg2.errors.RaiseException, match="append-only"):
        cur.execute(statement)
    assert query(settings, "SELECT * FROM hub.audit_log ORDER BY audit_id") == audited


@pytest.mark.parametrize(("role", "refusal"), [
    ("sanwang_processor", psycopg2.errors.RaiseException),  # may write hub tables: the trigger
    ("sanwang_api", psycopg2.errors.InsufficientPrivilege),
    ("sanwang_analyst", psycopg2.errors.InsufficientPrivilege)])
@pytest.mark.parametrize("statement", CHANGES)
def test_no_other_role_changes_the_audit_log(settings: HubSettings, audited: list[tuple],
                                             role: str, refusal: type, statement: str) -> None:
    with autocommit_cursor(settings, role) as cur, pytest.raises(refusal):
        cur.execute(statement)
    assert query(settings, "SELECT * FROM hub.audit_log ORDER BY audit_id") == audited
