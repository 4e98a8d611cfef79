"""Grid workers' reports against the real stack (issue 20): POST /grid/reports published to the
broker, merged by a real `sanwang process` worker, linked to residents; only their own grid (the
API and the database's row-level security); verification tasks for the owning department only,
closed by the owner's agreeing record or by its decision, which changes no golden value; refused
reports dead-lettered with the reason; reports in the access log; lives_alone=no closing the
elderly_living_alone finding."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from api.access import add_principal
from api.grid_reports import reporting_source
from connectors.mapping import to_event
from connectors.publish_api import publish_events
from deploy import postgres
from deploy.settings import HubSettings
from schemas.departments import department as declared
from schemas.topics import dead_letter_topic
from tests.integration.api_stack import DEPARTMENTS, STEWARD, Served, api_over_sample
from tests.integration.conftest import landed_events, query
from tests.integration.kafka_topics import read_data
from tests.integration.workers import joined, spawn_worker, stop_worker

POLICE = DEPARTMENTS["police"]
CIVIL_AFFAIRS = DEPARTMENTS["civil_affairs"]
PURPOSE = {"purpose": "verify grid reports"}


@pytest.fixture(scope="module")
def served(stack: HubSettings) -> Iterator[Served]:
    """The merged sample city, its API, and a processor merging what comes after."""
    with api_over_sample(stack) as api:
        worker = joined(api.settings, spawn_worker(api.settings))
        try:
            yield api
        finally:
            stop_worker(worker)


def residents_of(api: Served, worker: str) -> list[str]:
    """Living residents of the worker's grid whose residence the police stated."""
    return [r for (r,) in query(api.settings, """
        SELECT r.resident_id FROM hub.residents r
          JOIN hub.golden_values v ON v.resident_id = r.resident_id
                                  AND v.attribute = 'residence_address'
         WHERE r.grid_code = %s AND r.life_status = 'alive' AND v.source = 'police'
         ORDER BY r.resident_id""", (api.principals.grids[worker][0],))]


def merged(api: Served, report_id: str, timeout: float = 60.0) -> str:
    """The resident the report's record joined, once the processor merged it."""
    ref = f"{reporting_source().id}:{report_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = query(api.settings, "SELECT resident_id FROM hub.source_links WHERE ref = %s",
                      (ref,))
        if found:
            return found[0][0]
        time.sleep(0.3)
    raise AssertionError(f"{ref} was not merged in {timeout:.0f} s")


def report(api: Served, worker: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/grid/reports", worker, {"observed_on": "2026-11-20", **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def tasks(api: Served, who: str, department: str, **params: Any) -> list[dict[str, Any]]:
    answer = api.get(f"/departments/{department}/tasks", who, **PURPOSE, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def task_rows(api: Served, report_id: str) -> list[tuple]:
    return query(api.settings, "SELECT department, kind, status FROM hub.verification_tasks"
                               " WHERE report_ref = %s", (f"{reporting_source().id}:{report_id}",))


def test_a_report_outside_the_workers_grid_is_refused_by_the_api_and_the_database(
        served: Served) -> None:
    gw1, gw2 = served.grid_workers
    theirs = residents_of(served, gw2)[0]
    answer = served.post("/grid/reports", gw1, {"kind": "lives_alone", "lives_alone": "no",
                                                "resident_id": theirs,
                                                "observed_on": "2026-11-20"})
    assert answer.status_code == 403, answer.text
    found = served.post("/grid/reports", gw1, {
        "kind": "moved_in", "name": "测试人", "address": "某街1号", "observed_on": "2026-11-20",
        "grid_code": served.principals.grids[gw2][0]})
    assert found.status_code == 403, found.text
    analyst = served.post("/grid/reports", POLICE, {"kind": "lives_alone", "lives_alone": "no",
                                                    "resident_id": theirs,
                                                    "observed_on": "2026-11-20"})
    assert analyst.status_code == 403
    conn = psycopg2.connect(postgres.dsn(served.settings, "sanwang_api"))
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn, conn.cursor() as cur:
            cur.execute(f'SET ROLE "{served.principals.db_roles[gw1]}"')
            cur.execute("INSERT INTO hub.grid_reports (report_id, kind, resident_id, grid_code,"
                        " fields, event_id, principal) VALUES ('GRX', 'lives_alone', %s, %s,"
                        " '{}', 'e', 'x')", (theirs, served.principals.grids[gw2][0]))
    finally:
        conn.close()
    assert not query(served.settings, "SELECT 1 FROM hub.grid_reports WHERE resident_id = %s",
                     (theirs,))


def test_a_contradicting_report_opens_one_task_for_the_owner_which_its_record_closes(
        served: Served) -> None:
    gw1 = served.grid_workers[0]
    resident = residents_of(served, gw1)[0]
    golden = query(served.settings, "SELECT value, record_ref FROM hub.golden_values"
                                    " WHERE resident_id = %s AND attribute = 'residence_address'",
                   (resident,))[0]
    receipt = report(served, gw1, {"kind": "moved_out", "resident_id": resident,
                                   "moved_to": "四川省成都市武侯区玉林街道玉林北路社区9号"})
    assert merged(served, receipt["report_id"]) == resident
    assert task_rows(served, receipt["report_id"]) == [("police", "moved_out", "open")]
    [task] = [t for t in tasks(served, POLICE, "police") if t["resident_id"] == resident]
    assert task["reported"] == golden[0] and task["owner_value"] == golden[0]
    assert task["reported_by"] == gw1 and not task["overdue"]
    assert not [t for t in tasks(served, CIVIL_AFFAIRS, "civil-affairs")
                if t["resident_id"] == resident]
    assert served.get("/departments/police/tasks", CIVIL_AFFAIRS, **PURPOSE).status_code == 403
    assert query(served.settings, "SELECT value, record_ref FROM hub.golden_values WHERE"
                                  " resident_id = %s AND attribute = 'residence_address'",
                 (resident,))[0] == golden  # an observation, not the owner's value

    moved = _police_move(served, resident, "四川省成都市武侯区玉林街道玉林北路社区9号")
    deadline = time.monotonic() + 60
    while task_rows(served, receipt["report_id"])[0][2] != "agreed":
        assert time.monotonic() < deadline, "the owner's record did not close the task"
        time.sleep(0.3)
    [closed] = [t for t in tasks(served, POLICE, "police", status="agreed")
                if t["task_id"] == task["task_id"]]
    assert closed["closed_by"] == moved


def _police_move(api: Served, resident: str, address: str) -> str:
    """The police's own system records the move (its latest record of the resident, again,
    with the new address): published to the broker as the department itself; its ref."""
    police = declared("police")
    refs = {ref for (ref,) in query(api.settings, "SELECT ref FROM hub.source_links"
                                                  " WHERE resident_id = %s AND source = 'police'",
                                    (resident,))}
    latest = max((e for e in landed_events(api.settings, "source = 'police'").values()
                  if f"police:{e['subject']}" in refs),
                 key=lambda e: e["data"]["parsed"]["occurred"])
    raw = dict(latest["data"]["raw"])
    raw.update({"变动流水号": "GA2026112500000001", "变动日期": "2026-11-25",
                "变动类型": "住址变更", "现住址": address})
    event = to_event(police, raw, {"test": "grid reports"})
    assert publish_events(api.settings, "police", [event]).accepted == [event["id"]]
    return f"police:{event['subject']}"


def test_a_rejected_task_leaves_the_golden_record_and_the_access_log_shows_it(
        served: Served) -> None:
    gw1 = served.grid_workers[0]
    resident = residents_of(served, gw1)[1]
    receipt = report(served, gw1, {"kind": "deceased", "resident_id": resident,
                                   "died_on": "2026-11-18"})
    merged(served, receipt["report_id"])
    assert task_rows(served, receipt["report_id"]) == [("police", "deceased", "open")]
    [task] = [t for t in tasks(served, POLICE, "police") if t["resident_id"] == resident]
    path = f"/departments/police/tasks/{task['task_id']}"
    assert served.post(path, POLICE, {"decision": "rejected", "officer": "王警官"}
                       ).status_code == 422  # a rejection says why
    assert served.post(path, CIVIL_AFFAIRS, {"decision": "confirmed", "officer": "x"}
                       ).status_code == 403
    answer = served.post(path, POLICE, {"decision": "rejected", "officer": "王警官",
                                        "reason": "seen at the station on 2026-11-22"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "rejected" and answer.json()["closed_principal"] == POLICE
    assert served.post(path, POLICE, {"decision": "confirmed", "officer": "王警官"}
                       ).status_code == 409
    assert query(served.settings, "SELECT life_status FROM hub.residents WHERE resident_id = %s",
                 (resident,)) == [("alive",)]
    log = served.get(f"/residents/{resident}/access-log", STEWARD, **PURPOSE).json()["items"]
    actions = [(e["principal"], e["action"]) for e in log]
    assert (gw1, "report deceased") in actions and (POLICE, "task rejected") in actions


def test_a_report_its_schema_refuses_is_dead_lettered_with_the_reason(served: Served) -> None:
    gw1 = served.grid_workers[0]
    resident = residents_of(served, gw1)[2]
    answer = served.post("/grid/reports", gw1, {"kind": "deceased", "resident_id": resident,
                                                "observed_on": "2026-11-20"})
    assert answer.status_code == 422 and "died_on" in answer.text, answer.text
    letters = read_data(served.settings, dead_letter_topic(served.settings.topic_prefix))
    assert any(d.get("department") == reporting_source().id and "died_on" in d.get("error", "")
               for d in letters), letters
    assert not query(served.settings, "SELECT 1 FROM hub.grid_reports WHERE resident_id = %s",
                     (resident,))


def _id_number(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _elderly_alone(api: Served) -> tuple[str, str]:
    """The police register someone aged 86 alone at a new house number of a sampled resident's
    street: the resident and their grid, once the finding is there."""
    police = declared("police")
    sampled = next(e for e in landed_events(api.settings, "source = 'police'").values()
                   if e["data"]["parsed"]["residence_address"]
                   and e["data"]["parsed"]["residence_address"][-1] == "号")
    raw = dict(sampled["data"]["raw"])
    number = _id_number(raw["公民身份号码"][:6] + "19400315" + "091")
    address = sampled["data"]["parsed"]["residence_address"][:-1] + "8号附9"
    raw.update({"变动流水号": "GA2026111000000002", "人员编号": "R99999900000001",
                "公民身份号码": number, "姓名": "测老人", "出生日期": "1940-03-15",
                "户籍地址": address, "现住址": address, "变动日期": "2026-11-10",
                "变动类型": "户籍登记"})
    event = to_event(police, raw, {"test": "grid reports"})
    assert publish_events(api.settings, "police", [event]).accepted == [event["id"]]
    ref = f"police:{event['subject']}"
    deadline = time.monotonic() + 60
    while True:
        found = query(api.settings, """
            SELECT l.resident_id, r.grid_code FROM hub.source_links l
              JOIN hub.residents r USING (resident_id)
              JOIN hub.findings f ON f.resident_id = l.resident_id
                                 AND f.kind = 'elderly_living_alone'
             WHERE l.ref = %s AND r.grid_code IS NOT NULL""", (ref,))
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{ref}: no elderly_living_alone finding"
        time.sleep(0.3)


def test_lives_alone_no_closes_the_elderly_living_alone_finding(served: Served) -> None:
    resident, grid = _elderly_alone(served)
    name = f"gw-alone-{served.settings.database}"
    conn = psycopg2.connect(postgres.dsn(served.settings, postgres.ADMIN_ROLE))
    with conn, conn.cursor() as cur:
        served.principals.tokens[name] = add_principal(cur, name, "grid_worker", grids=(grid,))
    conn.close()
    receipt = report(served, name, {"kind": "lives_alone", "resident_id": resident,
                                    "lives_alone": "no"})
    merged(served, receipt["report_id"])
    assert not query(served.settings, "SELECT 1 FROM hub.findings WHERE resident_id = %s AND"
                                      " kind = 'elderly_living_alone'", (resident,))
    assert not task_rows(served, receipt["report_id"])  # no owner to verify
