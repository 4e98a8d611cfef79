"""The query API over HTTP (uvicorn) against the real store: authentication, each principal's
rights, parameter checks, entitlements, point-in-time reads, the audit of every personal read,
row-level security for grid workers, pagination, stewards' decisions (Schemathesis:
test_api_contract.py)."""

from __future__ import annotations

import csv
import datetime
import io
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deploy import postgres
from deploy.settings import HubSettings
from schemas.departments import department as declared
from tests.integration.api_stack import ANALYST, DEPARTMENTS, STEWARD, Served, api_over_sample
from tests.integration.conftest import clear_id_numbers, landed_events, query, run_sql

MASKED = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")
POLICE = DEPARTMENTS["police"]
CIVIL_AFFAIRS = DEPARTMENTS["civil_affairs"]
SOCIAL_SECURITY = DEPARTMENTS["social_security"]


@pytest.fixture(scope="module")
def served(stack: HubSettings) -> Iterator[Served]:
    """The module's API over the merged sample; tests that change the store use `fresh_api`."""
    with api_over_sample(stack) as api:
        yield api


@pytest.fixture
def fresh_api(stack: HubSettings) -> Iterator[Served]:
    with api_over_sample(stack) as api:
        yield api


def purpose() -> str:
    """A purpose no other read used: finds this test's audit rows."""
    return f"test {uuid.uuid4().hex[:12]}"


def audit_rows(api: Served, why: str) -> list[tuple]:
    return query(api.settings, "SELECT principal, action, resident_ids, fields FROM hub.audit_log"
                               " WHERE purpose = %s ORDER BY audit_id", (why,))


def audit_count(api: Served) -> int:
    return query(api.settings, "SELECT count(*) FROM hub.audit_log")[0][0]


@pytest.fixture(scope="module")
def someone(served: Served) -> dict[str, Any]:
    """The resident with the most golden attributes (so entitlements leave many out)."""
    resident, grid = query(served.settings, """
        SELECT resident_id, grid_code FROM hub.residents r
         WHERE id_number_sealed IS NOT NULL AND grid_code IS NOT NULL
         ORDER BY (SELECT count(*) FROM hub.golden_values v
                    WHERE v.resident_id = r.resident_id) DESC, resident_id
         LIMIT 1""")[0]
    id_number = clear_id_numbers(served.settings)[resident]
    values = dict(query(served.settings, "SELECT attribute, value FROM hub.golden_values"
                                         " WHERE resident_id = %s", (resident,)))
    relations = [dict(zip(("kind", "relative_id", "name", "record"), row, strict=True))
                 for row in query(served.settings, "SELECT kind, relative_id, relative_name,"
                                  " evidence FROM hub.resident_relations WHERE resident_id = %s"
                                  " ORDER BY kind, evidence, relative_id", (resident,))]
    return {"resident_id": resident, "id_number": id_number, "grid_code": grid,
            "values": {**values, "id_number": id_number, "grid_code": grid,
                       "relations": relations}}


def walk(api: Served, path: str, who: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged route, following next_offset."""
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        answer = api.get(path, who, offset=offset, **params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["offset"] == offset and len(page["items"]) <= page["limit"]
        items += page["items"]
        offset = page["next_offset"]
    return items


# --- authentication ------------------------------------------------------------------------

ROUTES = [("GET", "/residents/lookup"), ("GET", "/residents/R0123456789abcde"),
          ("GET", "/residents/R0123456789abcde/access-log"), ("GET", "/changes"),
          ("GET", "/analytics/population"), ("GET", "/analytics/findings"),
          ("GET", "/analytics/residents"), ("GET", "/analytics/residents.csv"),
          ("GET", "/grid/residents"), ("GET", "/steward/conflicts"), ("GET", "/steward/review"),
          ("POST", "/steward/confirm"), ("POST", "/steward/reject"), ("POST", "/steward/split"),
          ("GET", "/console/me"), ("GET", "/console/ops"), ("GET", "/console/summary"),
          ("POST", "/grid/reports"), ("GET", "/departments/police/tasks"),
          ("POST", "/departments/police/tasks/0123456789abcdef01234567")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_wants_a_known_bearer_token(served: Served, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"},
                    {"Authorization": f"Basic {served.principals.tokens[STEWARD]}"}):
        answer = httpx.request(method, served.url + path, headers=headers, timeout=30,
                               params={"purpose": "test", "id_number": "51180219650404061X"})
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"


# --- rights ----------------------------------------------------------------------------------

def _outside_rights() -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(who, method, path, body): a principal calling a route of another kind, with valid
    parameters; `{id}` is a real resident. Grid workers are named `gw1` here."""
    pair = {"a": "police:X1", "b": "police:X2"}
    split = {"resident_id": "{id}", "records": ["police:X1"]}
    cases: list[tuple[str, str, str, dict[str, Any] | None]] = [
        (ANALYST, "GET", "/residents/lookup", None),
        (ANALYST, "GET", "/residents/{id}", None),
        (ANALYST, "GET", "/grid/residents", None),
        (ANALYST, "POST", "/steward/confirm", pair),
        ("gw1", "GET", "/residents/lookup", None),
        ("gw1", "GET", "/residents/{id}", None),
        ("gw1", "GET", "/analytics/residents", None),
        (STEWARD, "GET", "/residents/lookup", None),
        (STEWARD, "GET", "/changes", None),
        (STEWARD, "GET", "/analytics/population", None),
        (STEWARD, "GET", "/grid/residents", None),
        (POLICE, "GET", "/residents/{id}/access-log", None),
        (SOCIAL_SECURITY, "POST", "/steward/split", split),
        (ANALYST, "POST", "/grid/reports", {"kind": "lives_alone", "lives_alone": "no",
                                            "resident_id": "{id}", "observed_on": "2026-11-20"}),
        (STEWARD, "GET", "/departments/police/tasks", None),
        (SOCIAL_SECURITY, "GET", "/departments/police/tasks", None),
        ("gw1", "GET", "/departments/police/tasks", None),
    ]
    cases += [("gw1", method, path, body) for method, path, body in [
        ("GET", "/steward/conflicts", None), ("GET", "/steward/review", None),
        ("POST", "/steward/confirm", pair), ("POST", "/steward/reject", pair),
        ("POST", "/steward/split", split), ("GET", "/residents/{id}/access-log", None)]]
    cases += [(CIVIL_AFFAIRS, "GET", path, None) for path in [
        "/analytics/population", "/analytics/findings", "/analytics/residents",
        "/analytics/residents.csv", "/grid/residents", "/steward/conflicts"]]
    return cases


@pytest.mark.parametrize(("who", "method", "path", "body"), _outside_rights())
def test_principals_outside_their_rights_get_403_and_nothing_is_audited(
        served: Served, someone: dict[str, Any], who: str, method: str, path: str,
        body: dict[str, Any] | None) -> None:
    who = served.grid_workers[0] if who == "gw1" else who
    path = path.replace("{id}", someone["resident_id"])
    before = audit_count(served)
    if method == "GET":
        answer = served.get(path, who, purpose="test", id_number=someone["id_number"])
    else:
        body = {k: (v.replace("{id}", someone["resident_id"]) if isinstance(v, str) else v)
                for k, v in (body or {}).items()}
        answer = served.post(path, who, body)
    assert answer.status_code == 403, answer.text
    assert someone["id_number"] not in answer.text
    assert audit_count(served) == before


# --- parameters ------------------------------------------------------------------------------

BAD_PARAMETERS = [
    (POLICE, "/residents/lookup", {"id_number": "{id_number}"}, "purpose"),
    (POLICE, "/residents/lookup", {"purpose": "test", "id_number": "51180219650404061"},
     "id_number"),
    (POLICE, "/residents/lookup", {"purpose": "test", "id_number": "5118021965040406AB"},
     "id_number"),
    (POLICE, "/residents/lookup", {"purpose": "test", "id_number": "{id_number}",
                                   "as_of": "2020-02-30"}, "as_of"),
    (POLICE, "/residents/lookup", {"purpose": "x", "id_number": "{id_number}"}, "purpose"),
    (POLICE, "/residents/{id}", {}, "purpose"),
    (STEWARD, "/residents/not-a-resident-id", {"purpose": "test"}, "resident_id"),
    (POLICE, "/changes", {"after": -1}, "after"),
    (POLICE, "/changes", {"limit": 0}, "limit"),
    (ANALYST, "/analytics/residents", {"purpose": "test", "limit": 0}, "limit"),
    (ANALYST, "/analytics/residents", {"purpose": "test", "limit": 501}, "limit"),
    (ANALYST, "/analytics/residents", {"purpose": "test", "offset": -1}, "offset"),
    (ANALYST, "/analytics/residents", {"purpose": "test", "township_code": "51-18"},
     "township_code"),
    (ANALYST, "/analytics/findings", {"purpose": "test", "limit": 0}, "limit"),
    (ANALYST, "/analytics/population", {"level": "province"}, "level"),
    (ANALYST, "/analytics/population", {"level": ""}, "level"),
    ("gw1", "/grid/residents", {"limit": 10}, "purpose"),
    (STEWARD, "/steward/conflicts", {"purpose": "test", "limit": 0}, "limit"),
    (STEWARD, "/residents/{id}/access-log", {"purpose": "test", "limit": 0}, "limit"),
]


@pytest.mark.parametrize(("who", "path", "params", "field"), BAD_PARAMETERS)
def test_bad_parameters_get_422_naming_the_parameter(
        served: Served, someone: dict[str, Any], who: str, path: str, params: dict[str, Any],
        field: str) -> None:
    who = served.grid_workers[0] if who == "gw1" else who
    path = path.replace("{id}", someone["resident_id"])
    params = {k: (someone["id_number"] if v == "{id_number}" else v) for k, v in params.items()}
    before = audit_count(served)
    answer = served.get(path, who, **params)
    assert answer.status_code == 422, answer.text
    assert [e["loc"][-1] for e in answer.json()["detail"]] == [field]
    assert audit_count(served) == before


@pytest.mark.parametrize("body", [
    {"a": "tax:1", "b": "police:X"},            # no such department
    {"a": "police:", "b": "police:X"},          # empty record id
    {"a": "police:X"},                          # b missing
    {"a": "police:X", "b": "police:Y", "note": "n" * 501},
])
def test_bad_decisions_get_422(served: Served, body: dict[str, Any]) -> None:
    assert served.post("/steward/confirm", STEWARD, body).status_code == 422
    assert served.post("/steward/reject", STEWARD, body).status_code == 422


def test_unknown_records_and_residents_are_404_with_a_reason(served: Served) -> None:
    answer = served.post("/steward/confirm", STEWARD, {"a": "police:NOPE", "b": "police:NADA"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == "unknown records: police:NADA, police:NOPE"
    answer = served.post("/steward/split", STEWARD,
                         {"resident_id": "R000000000000000", "records": ["police:NOPE"]})
    assert (answer.status_code, answer.json()["detail"]) == (404, "no resident R000000000000000")
    for records in ([], ["NOPE"]):
        assert served.post("/steward/split", STEWARD, {"resident_id": "R000000000000000",
                                                       "records": records}).status_code == 422


def test_splits_the_grouping_refuses_are_409_and_change_nothing(served: Served) -> None:
    groups = _groups(served)
    decisions = query(served.settings, "SELECT count(*) FROM hub.steward_decisions")
    resident, refs = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
    stranger = sorted(next(g for r, g in groups.items() if r != resident))[0]
    for records, why in ((sorted(refs), "a split must leave at least one record in the "
                                         "resident"),
                         ([stranger], f"not records of {resident}: {stranger}")):
        answer = served.post("/steward/split", STEWARD, {"resident_id": resident,
                                                         "records": records})
        assert (answer.status_code, answer.json()["detail"]) == (409, why)
    assert _groups(served) == groups
    assert query(served.settings, "SELECT count(*) FROM hub.steward_decisions") == decisions


# --- entitlements and point in time ---------------------------------------------------------

@pytest.mark.parametrize("department", sorted(DEPARTMENTS))
def test_a_lookup_answers_exactly_the_departments_entitled_fields(
        served: Served, someone: dict[str, Any], department: str) -> None:
    entitled = list(declared(department).reads)
    who = DEPARTMENTS[department]
    for answer in (served.get("/residents/lookup", who, purpose="test",
                              id_number=someone["id_number"].lower()),
                   served.get(f"/residents/{someone['resident_id']}", who, purpose="test")):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"resident_id", "as_of", "values"}
        assert body["resident_id"] == someone["resident_id"] and body["as_of"] is None
        assert sorted(body["values"]) == sorted(entitled)
        assert body["values"] == {f: someone["values"].get(f) for f in entitled}
    withheld = set(someone["values"]) - set(entitled)
    assert withheld, "the resident should have values this department may not see"


def test_a_steward_sees_every_value(served: Served, someone: dict[str, Any]) -> None:
    answer = served.get(f"/residents/{someone['resident_id']}", STEWARD, purpose="test")
    assert answer.json()["values"] == someone["values"]


def test_unknown_residents_are_404(served: Served) -> None:
    assert served.get("/residents/lookup", POLICE, purpose="test",
                      id_number="110101190001010000").status_code == 404
    assert served.get("/residents/R000000000000000", POLICE, purpose="test").status_code == 404


@pytest.fixture(scope="module")
def mover(served: Served) -> dict[str, Any]:
    """A resident the police recorded a 住址变更 for: the move's date, the addresses before
    and after (from the police events themselves, not from the history)."""
    parsed = [e["data"]["parsed"] for e in landed_events(served.settings,
                                                         "source = 'police'").values()]
    resident_of = dict(query(served.settings, "SELECT record_id, resident_id FROM"
                                              " hub.source_links WHERE source = 'police'"))
    numbers = clear_id_numbers(served.settings)
    moved, resident, new = max((p["occurred"], resident_of[p["record_id"]],
                                p["residence_address"]) for p in parsed
                               if p["change_type"] == "住址变更"
                               and numbers.get(resident_of[p["record_id"]]))
    id_number = numbers[resident]
    old = max((p["occurred"], p["residence_address"]) for p in parsed
              if resident_of[p["record_id"]] == resident and p["occurred"] < moved)[1]
    assert old != new
    return {"resident_id": resident, "id_number": id_number, "moved": moved, "old": old,
            "new": new}


def test_as_of_answers_the_values_valid_then(served: Served, mover: dict[str, Any]) -> None:
    moved = datetime.date.fromisoformat(mover["moved"][:10])
    before = (moved - datetime.timedelta(days=1)).isoformat()

    def residence(as_of: str | None) -> str:
        params = {"as_of": as_of} if as_of else {}
        answer = served.get("/residents/lookup", POLICE, purpose="test",
                            id_number=mover["id_number"], **params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["as_of"] == as_of
        return answer.json()["values"]["residence_address"]

    assert residence(before) == mover["old"]
    assert residence(moved.isoformat()) == mover["new"]
    assert residence(None) == mover["new"]
    past = served.get(f"/residents/{mover['resident_id']}", CIVIL_AFFAIRS, purpose="test",
                      as_of=before).json()
    assert past["values"]["residence_address"] == mover["old"]
    assert served.get("/residents/lookup", POLICE, purpose="test", id_number=mover["id_number"],
                      as_of="1900-01-01").status_code == 404  # nothing was known then


# --- audit -----------------------------------------------------------------------------------

def test_every_personal_read_is_audited_and_the_access_log_lists_who_looked(
        served: Served, someone: dict[str, Any]) -> None:
    why = purpose()
    resident, grid_worker = someone["resident_id"], served.grid_workers[0]
    entitled = list(declared("police").reads)
    reads = [
        (POLICE, "/residents/lookup", {"id_number": someone["id_number"]}),
        (CIVIL_AFFAIRS, f"/residents/{resident}", {}),
        (STEWARD, f"/residents/{resident}", {}),
        (ANALYST, "/analytics/residents", {"township_code": someone["grid_code"][:9]}),
        (ANALYST, "/analytics/residents.csv", {"township_code": someone["grid_code"][:9]}),
        (ANALYST, "/analytics/findings", {"limit": 3}),
        (grid_worker, "/grid/residents", {"limit": 5}),
        (STEWARD, "/steward/conflicts", {"limit": 4}),
    ]
    answers = [served.get(path, who, purpose=why, **params) for who, path, params in reads]
    assert [a.status_code for a in answers] == [200] * len(reads)
    rows = audit_rows(served, why)
    assert [(who, action) for who, action, *_ in rows] == [
        (POLICE, "lookup"), (CIVIL_AFFAIRS, "resident"), (STEWARD, "resident"),
        (ANALYST, "search"), (ANALYST, "export"), (ANALYST, "findings"),
        (grid_worker, "grid"), (STEWARD, "conflicts")]
    assert rows[0][2:] == ([resident], entitled)
    assert rows[2][2:] == ([resident], sorted(someone["values"]))
    listed = [{i["resident_id"] for i in a.json()["items"]} for a in (answers[3], answers[5],
                                                                         answers[6], answers[7])]
    listed.insert(1, {r["resident_id"] for r in csv.DictReader(io.StringIO(answers[4].text))})
    assert [set(row[2]) for row in rows[3:]] == listed
    assert resident in rows[3][2] and "id_number_masked" in rows[3][3]
    assert rows[6][3] == ["birth_date", "grid_code", "id_number_masked", "life_status", "name",
                          "phone", "residence_address", "resident_id", "sex"]

    log = served.get(f"/residents/{resident}/access-log", STEWARD, purpose=why, limit=500)
    assert log.status_code == 200
    mine = [(i["principal"], i["action"], i["fields"]) for i in log.json()["items"]
            if i["purpose"] == why]
    assert mine == [(who, action, fields) for who, action, ids, fields in rows
                    if resident in ids]  # oldest first: pages stay put while new reads append
    assert {(POLICE, "lookup"), (CIVIL_AFFAIRS, "resident"), (STEWARD, "resident"),
            (ANALYST, "search"), (ANALYST, "export")} <= {m[:2] for m in mine}
    assert audit_rows(served, why)[-1] == (STEWARD, "access-log", [resident], ["audit_log"])


def test_walking_the_access_log_shows_every_read_once(served: Served,
                                                      someone: dict[str, Any]) -> None:
    why = purpose()
    for _ in range(6):
        served.get("/residents/lookup", SOCIAL_SECURITY, purpose=why,
                   id_number=someone["id_number"])
    items = walk(served, f"/residents/{someone['resident_id']}/access-log", STEWARD,
                 purpose=why, limit=2)
    seen = [(i["principal"], i["action"], i["purpose"], i["at"]) for i in items]
    assert len(seen) == len(set(seen)), "rows repeated across pages"
    assert len([s for s in seen if s[2] == why and s[1] == "lookup"]) == 6


def test_no_audit_no_answer(served: Served, someone: dict[str, Any]) -> None:
    """If the audit row cannot be written, the read fails and nothing of it leaves."""
    owner = postgres.dsn(served.settings, "sanwang_owner")
    why = purpose()
    # sanwang_api is a member of every grid worker's role, so it also holds (inherits) the
    # grid workers' INSERT on the audit log: revoking its own grant alone changes nothing.
    run_sql(owner, "REVOKE INSERT ON hub.audit_log FROM sanwang_api, sanwang_grid_worker")
    try:
        answers = [
            served.get("/residents/lookup", POLICE, purpose=why, id_number=someone["id_number"]),
            served.get(f"/residents/{someone['resident_id']}", STEWARD, purpose=why),
            served.get("/analytics/residents", ANALYST, purpose=why),
            served.get("/analytics/residents.csv", ANALYST, purpose=why),
            served.get("/analytics/findings", ANALYST, purpose=why),
            served.get("/grid/residents", served.grid_workers[0], purpose=why),
            served.get("/steward/conflicts", STEWARD, purpose=why),
        ]
    finally:
        run_sql(owner, "GRANT INSERT ON hub.audit_log TO sanwang_api, sanwang_grid_worker")
    for answer in answers:
        assert answer.status_code >= 500, answer.text
        for value in (someone["id_number"], someone["values"]["name"], someone["resident_id"]):
            assert value not in answer.text
    assert audit_rows(served, why) == []
    again = served.get("/residents/lookup", POLICE, purpose=why, id_number=someone["id_number"])
    assert again.status_code == 200 and len(audit_rows(served, why)) == 1


# --- grid workers ----------------------------------------------------------------------------

def test_grid_workers_see_only_their_grids_residents(served: Served) -> None:
    seen = {}
    for worker in served.grid_workers:
        (grid,) = served.principals.grids[worker]
        items = walk(served, "/grid/residents", worker, purpose="test", limit=7)
        expected = {r for (r,) in query(served.settings, "SELECT resident_id FROM hub.residents"
                                                         " WHERE grid_code = %s", (grid,))}
        assert len(expected) > 7  # several pages
        assert {i["grid_code"] for i in items} == {grid}
        assert sorted(i["resident_id"] for i in items) == sorted(expected)
        assert all("id_number" not in i for i in items)
        assert all(MASKED.match(i["id_number_masked"]) for i in items if i["id_number_masked"])
        seen[worker] = expected
    first, second = seen.values()
    assert not first & second


# --- analysts --------------------------------------------------------------------------------

def test_analysts_search_pages_over_every_resident_with_masked_ids(served: Served) -> None:
    items = walk(served, "/analytics/residents", ANALYST, purpose="test", limit=37)
    everyone = clear_id_numbers(served.settings)
    assert sorted(i["resident_id"] for i in items) == sorted(everyone)
    assert len(items) == len(everyone)
    for item in items:
        assert "id_number" not in item
        real = everyone[item["resident_id"]]
        if real is None:
            assert item["id_number_masked"] is None
        else:
            assert MASKED.match(item["id_number_masked"]), item
            assert item["id_number_masked"] == real[:6] + "********" + real[-4:]


def test_analyst_answers_never_carry_an_id_number_in_clear(served: Served) -> None:
    numbers = [n for n in clear_id_numbers(served.settings).values() if n is not None]
    texts = [served.get("/analytics/residents.csv", ANALYST, purpose="test").text,
             served.get("/analytics/residents", ANALYST, purpose="test", limit=500).text,
             served.get("/analytics/findings", ANALYST, purpose="test", limit=500).text]
    exported = list(csv.DictReader(io.StringIO(texts[0])))
    assert len(exported) == len(numbers) + query(
        served.settings, "SELECT count(*) FROM hub.residents WHERE id_number_sealed IS NULL")[0][0]
    for text in texts:
        assert not [n for n in numbers if n in text]


def test_findings_are_masked_and_filtered_by_kind(served: Served) -> None:
    stored = query(served.settings, "SELECT kind, resident_id FROM hub.findings")
    items = walk(served, "/analytics/findings", ANALYST, purpose="test", limit=2)
    assert sorted((i["kind"], i["resident_id"]) for i in items) == sorted(stored)
    assert all(MASKED.match(i["id_number_masked"]) for i in items)
    kind = stored[0][0]
    only = served.get("/analytics/findings", ANALYST, purpose="test", kind=kind).json()["items"]
    assert {i["kind"] for i in only} == {kind}
    assert len(only) == sum(1 for k, _ in stored if k == kind)


def test_population_counts_add_up_across_the_four_levels(served: Served) -> None:
    """Children add up to their parent; where the small-cell rule withholds some (below the
    township), never one alone: the shown ones leave a total for two or more withheld ones."""
    k = served.settings.small_cell_k
    levels = {level: served.get("/analytics/population", ANALYST, level=level).json()
              for level in ("district", "township", "community", "grid")}
    default = served.get("/analytics/population", ANALYST)
    assert default.json() == levels["district"]
    keys = {"district": ("district",), "township": ("district", "township"),
            "community": ("district", "township", "community"),
            "grid": ("district", "township", "community", "grid_code")}
    counts = [c for c in levels["district"][0] if c not in
              ("district", "township", "community", "grid_code", "grid_name")]
    order = list(keys)
    withheld = 0
    for parent, child in zip(order, order[1:], strict=False):
        for row in levels[parent]:
            key = tuple(row[k] for k in keys[parent])
            below = [r for r in levels[child] if tuple(r[k] for k in keys[parent]) == key]
            assert below, (parent, key)
            for count in counts:
                shown = [r[count] for r in below]
                if child in ("community", "grid"):
                    assert not [v for v in shown if v is not None and 1 <= v <= k], (child, count)
                if row[count] is None:
                    continue
                rest, hidden = row[count] - sum(v or 0 for v in shown), shown.count(None)
                assert (hidden, rest) == (0, 0) or (hidden >= 2 and rest >= 0), \
                    (parent, key, count)
                withheld += hidden
    assert withheld > 10
    living = query(served.settings, "SELECT count(*) FROM hub.residents WHERE life_status IS"
                                    " DISTINCT FROM 'deceased' AND grid_code IS NOT NULL")[0][0]
    for level in ("district", "township"):
        assert sum(r["population"] for r in levels[level]) == living
        assert all(r["population"] == r["male"] + r["female"] for r in levels[level])


# --- change feed -----------------------------------------------------------------------------

def test_changes_page_with_next_after(served: Served) -> None:
    expected = [s for (s,) in query(served.settings, """
        SELECT o.seq FROM hub.change_outbox o WHERE o.change <> 'finding' AND EXISTS (
               SELECT 1 FROM hub.source_links l
                WHERE l.resident_id = o.resident_id AND l.source = 'civil_affairs')
         ORDER BY o.seq""")]
    assert len(expected) > 30
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        page = served.get("/changes", CIVIL_AFFAIRS, after=after, limit=30).json()
        assert len(page["items"]) <= 30
        seen += [i["seq"] for i in page["items"]]
        after = page["next_after"]
    assert seen == expected
    last = served.get("/changes", CIVIL_AFFAIRS, after=expected[-1]).json()
    assert last == {"items": [], "next_after": None}


# --- stewards' decisions (each test on a store of its own) ---------------------------------

def _groups(api: Served) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for resident, ref in query(api.settings, "SELECT resident_id, ref FROM hub.source_links"):
        groups.setdefault(resident, set()).add(ref)
    return groups


def _resident_of(api: Served, ref: str) -> str:
    return query(api.settings, "SELECT resident_id FROM hub.source_links WHERE ref = %s",
                 (ref,))[0][0]


def test_steward_decisions_change_the_groupings_and_name_the_steward(
        fresh_api: Served) -> None:
    api = fresh_api
    singles = sorted(sorted(g)[0] for g in _groups(api).values() if len(g) == 1)
    a, b = singles[0], singles[1]
    assert _resident_of(api, a) != _resident_of(api, b)

    confirmed = api.post("/steward/confirm", STEWARD, {"a": a, "b": b, "note": "same person"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["changes"]
    assert _resident_of(api, a) == _resident_of(api, b)

    rejected = api.post("/steward/reject", STEWARD, {"a": a, "b": b, "note": "twins"})
    assert rejected.status_code == 200, rejected.text
    assert _resident_of(api, a) != _resident_of(api, b)

    resident, refs = max(_groups(api).items(), key=lambda item: (len(item[1]), item[0]))
    police = sorted(r for r in refs if r.startswith("police:"))[0]
    split = api.post("/steward/split", STEWARD,
                     {"resident_id": resident, "records": [police], "note": "not him"})
    assert split.status_code == 200, split.text
    assert _groups(api)[_resident_of(api, police)] == {police}
    assert _resident_of(api, sorted(refs - {police})[0]) != _resident_of(api, police)

    decisions = query(api.settings, "SELECT kind, steward, note FROM hub.steward_decisions"
                                    " ORDER BY decision_id")
    assert decisions[:2] == [("confirm", STEWARD, "same person"), ("split", STEWARD, "twins")]
    assert decisions[2:] == [("split", STEWARD, "not him")] * (len(refs) - 1)
    assert "split" in split.json()["changes"]


def test_the_review_queue_and_conflicts_page(fresh_api: Served) -> None:
    conflicts = walk(fresh_api, "/steward/conflicts", STEWARD, purpose="test", limit=3)
    stored = query(fresh_api.settings, "SELECT conflict_id FROM hub.conflicts WHERE status ="
                                       " 'open' ORDER BY conflict_id")
    assert [c["conflict_id"] for c in conflicts] == [c for (c,) in stored]
    review = walk(fresh_api, "/steward/review", STEWARD, limit=3)
    assert len(review) == query(fresh_api.settings, "SELECT count(*) FROM hub.review_queue"
                                                    " WHERE status = 'open'")[0][0]


def test_a_record_cannot_be_rejected_against_itself(fresh_api: Served) -> None:
    record = sorted(_groups(fresh_api).popitem()[1])[0]
    answer = fresh_api.post("/steward/reject", STEWARD, {"a": record, "b": record})
    assert answer.status_code == 422, answer.text
    assert query(fresh_api.settings, "SELECT count(*) FROM hub.steward_decisions")[0][0] == 0


def test_a_confirm_after_a_reject_is_honoured_or_refused(fresh_api: Served) -> None:
    singles = sorted(sorted(g)[0] for g in _groups(fresh_api).values() if len(g) == 1)
    a, b = singles[:2]
    assert fresh_api.post("/steward/reject", STEWARD, {"a": a, "b": b}).status_code == 200
    answer = fresh_api.post("/steward/confirm", STEWARD, {"a": a, "b": b, "note": "after all"})
    assert answer.status_code >= 400 or _resident_of(fresh_api, a) == _resident_of(fresh_api, b)


# --- concurrency -----------------------------------------------------------------------------

def _at_once(count: int, call: Any) -> list[int]:
    """Status codes of `count` calls started together, call(i) -> httpx.Response."""
    start = threading.Barrier(count)
    codes: list[int] = []

    def one(i: int) -> None:
        start.wait()
        codes.append(call(i).status_code)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(codes)


def test_concurrent_reads_all_succeed(served: Served) -> None:
    codes = _at_once(32, lambda i: served.get("/analytics/residents.csv", ANALYST,
                                              purpose="load"))
    assert codes == [200] * 32


def test_concurrent_steward_decisions_all_succeed(fresh_api: Served) -> None:
    singles = sorted(sorted(g)[0] for g in _groups(fresh_api).values() if len(g) == 1)
    codes: list[int] = []
    for round_ in range(4):
        pairs = singles[round_ * 12:(round_ + 1) * 12]
        codes += _at_once(6, lambda i, pairs=pairs: fresh_api.post(
            "/steward/confirm", STEWARD, {"a": pairs[2 * i], "b": pairs[2 * i + 1]}))
    assert codes == [200] * 24
