"""Party membership and medical certificates (PIPL art. 28) reach only their owning department
and those its declaration shares them with: every other principal, asking however it may, gets
none of them per person; analysts get counts by grid. Logs in as each role."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest

from deploy import postgres
from deploy.settings import HubSettings
from schemas.departments import all_departments, sensitive_attributes
from streams.grids import read_grids_csv, store_grids
from streams.landing import ConsumedEvent, HubStore
from tests.integration.api_stack import Served, serving_api
from tests.integration.conftest import hub_settings, query
from tests.samples import SAMPLE5, sample5_events

ANALYST, STEWARD, GRID_WORKER = "analyst-wang", "steward-zhao", "grid-worker-chen"


@pytest.fixture(scope="module")
def served(stack: HubSettings) -> Iterator[Served]:
    """The five-department sample merged, a principal of every kind, the API serving it."""
    from tests.integration.api_stack import Principals

    settings = hub_settings(stack)
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        store_grids(cur, read_grids_csv(SAMPLE5 / "grids.csv"))
    conn.close()
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(sample5_events())])
    store.close()
    [(busiest,)] = query(settings, "SELECT grid_code FROM hub.residents r JOIN hub.golden_values v"
                                   " USING (resident_id) WHERE v.attribute ="
                                   " 'party_membership' AND grid_code IS NOT NULL GROUP BY 1"
                                   " ORDER BY count(*) DESC, 1 LIMIT 1")
    principals = Principals()
    conn = psycopg2.connect(postgres.dsn(settings, postgres.ADMIN_ROLE))
    with conn, conn.cursor() as cur:
        for department in all_departments():
            principals.add(cur, f"{department}-{settings.database}", "department", department)
        principals.add(cur, ANALYST, "analyst")
        principals.add(cur, STEWARD, "steward")
        principals.add(cur, f"{GRID_WORKER}-{settings.database}", "grid_worker",
                       grids=(busiest,))
    conn.close()
    with serving_api(settings) as url:
        yield Served(settings, url, principals)


def holders(settings: HubSettings, attribute: str) -> list[tuple[str, str]]:
    """(resident, ID number) of living residents holding `attribute` with a known number."""
    from tests.integration.conftest import clear_id_numbers

    numbers = clear_id_numbers(settings)
    residents = query(settings, "SELECT resident_id FROM hub.golden_values WHERE attribute = %s"
                                " ORDER BY resident_id", (attribute,))
    return [(r, numbers[r]) for (r,) in residents if numbers.get(r)]


@pytest.mark.parametrize("attribute", sorted(sensitive_attributes()))
def test_only_the_owner_and_whom_it_shares_with_read_a_sensitive_attribute(
        served: Served, attribute: str) -> None:
    people = holders(served.settings, attribute)
    assert people, f"the sample has no resident with {attribute}"
    resident, number = people[0]
    owner = next(d for d in all_departments().values() if attribute in d.owns)
    for department in all_departments().values():
        who = f"{department.id}-{served.settings.database}"
        answer = served.get("/residents/lookup", who, id_number=number, purpose="a test")
        assert answer.status_code == 200, answer.text
        entitled = department.id == owner.id or department.id in owner.shares
        assert (attribute in answer.json()["values"]) is entitled, (department.id, attribute)
    answer = served.get(f"/residents/{resident}", STEWARD, purpose="a test")
    assert answer.status_code == 200 and attribute not in answer.json()["values"]


def test_the_party_sees_its_members(served: Served) -> None:
    _, number = holders(served.settings, "party_membership")[0]
    answer = served.get("/residents/lookup", f"party-{served.settings.database}",
                        id_number=number, purpose="a test")
    assert answer.json()["values"]["party_membership"]["status"] in ("member", "died")


def test_analysts_get_counts_never_a_person(served: Served) -> None:
    counted = dict(query(served.settings, """
        SELECT r.grid_code, count(*)::int FROM hub.residents r JOIN hub.golden_values v
            ON v.resident_id = r.resident_id AND v.attribute = 'party_membership'
         WHERE r.life_status IS DISTINCT FROM 'deceased' GROUP BY 1"""))
    assert sum(counted.values()) > 0
    k = served.settings.small_cell_k
    conn = psycopg2.connect(postgres.dsn(served.settings, "sanwang_analyst"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT grid_code, residents FROM hub.attribute_counts_by_grid"
                        " WHERE attribute = 'party_membership'")
            shown = dict(cur.fetchall())  # withheld: None
            # every count of 1..k is withheld, others only beside one (and a withheld 0 is a row)
            assert {g: n for g, n in shown.items() if n is not None} == \
                {g: n for g, n in counted.items() if shown.get(g, n) is not None}
            assert all(shown.get(g, 0) is None for g, n in counted.items() if 1 <= n <= k)
            assert any(n is None for n in shown.values())
            conn.rollback()
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT value FROM hub.golden_values")
            conn.rollback()
            cur.execute("SELECT * FROM hub.analyst_residents LIMIT 1")
            columns = {c.name for c in cur.description}
            assert not columns & sensitive_attributes() and "attributes" not in columns
    finally:
        conn.close()
    for path in ("/analytics/residents", "/analytics/findings"):
        answer = served.get(path, ANALYST, purpose="a test")
        assert answer.status_code == 200
        assert not any(a in answer.text for a in sensitive_attributes()), path


def test_grid_workers_read_none_of_it(served: Served) -> None:
    who = f"{GRID_WORKER}-{served.settings.database}"
    answer = served.get("/grid/residents", who, purpose="a test")
    assert answer.status_code == 200 and answer.json()["items"]
    assert not any(a in answer.text for a in sensitive_attributes())
    role = served.principals.db_roles[who]
    conn = psycopg2.connect(postgres.dsn(served.settings, postgres.ADMIN_ROLE))
    try:
        with conn.cursor() as cur:
            cur.execute(f'SET ROLE "{role}"')
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT value FROM hub.golden_values")
    finally:
        conn.close()


def test_every_read_of_sensitive_data_is_audited(served: Served) -> None:
    _, number = holders(served.settings, "party_membership")[0]
    who = f"party-{served.settings.database}"
    served.get("/residents/lookup", who, id_number=number, purpose="membership check")
    audited = query(served.settings, "SELECT fields FROM hub.audit_log WHERE principal = %s"
                                     " AND purpose = 'membership check'", (who,))
    assert audited and "party_membership" in audited[-1][0]
