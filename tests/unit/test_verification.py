"""Verification tasks decided from a resident's facts (streams/verification.py), the observer's
rank in the golden record (streams/survivorship.py), and a report's record (api/grid_reports)."""

from __future__ import annotations

import datetime
from itertools import permutations

from api.grid_reports import GridReport, report_columns, reporting_source
from schemas.declarations import Verification
from streams.facts import Observation
from streams.survivorship import golden_record
from streams.verification import claims_of

GRID = reporting_source().id
OLD, NEW = "四川省雅安市雨城区河北街道福田社区学苑街1号", "四川省成都市武侯区玉林北路9号"
MOVED_OUT = Verification("differs", "moved_out")
DECEASED = Verification("same", "deceased")


def police(attribute: str, value: str, when: str, record: str = "police:GA1") -> Observation:
    return Observation(attribute, value, when, "police", record)


def report(attribute: str, value: str, claim: Verification, when: str = "2026-11-20"
           ) -> Observation:
    return Observation(attribute, value, when, GRID, f"{GRID}:GR1", claim)


def no_place(_: str) -> None:
    return None


def test_moved_out_while_the_owner_still_has_them_there_asks_the_owner() -> None:
    [claim] = claims_of([police("residence_address", OLD, "2015-01-27"),
                         report("residence_address", OLD, MOVED_OUT)], no_place)
    assert (claim.department, claim.kind, claim.holds) == ("police", "moved_out", False)
    assert claim.owner_value == OLD and claim.owner_record == "police:GA1"


def test_the_owners_later_move_agrees_with_moved_out() -> None:
    facts = [police("residence_address", OLD, "2015-01-27"),
             police("residence_address", NEW, "2026-11-25", "police:GA2"),
             report("residence_address", OLD, MOVED_OUT)]
    for order in permutations(facts):  # the decision never depends on arrival order
        [claim] = claims_of(list(order), no_place)
        assert claim.holds and claim.owner_record == "police:GA2"


def test_addresses_that_name_the_same_place_agree() -> None:
    spelled = OLD.replace("四川省雅安市", "")
    keys = {OLD: "k1", spelled: "k1"}
    [claim] = claims_of([police("residence_address", OLD, "2015-01-27"),
                         report("residence_address", spelled, MOVED_OUT)], keys.get)
    assert not claim.holds  # the same place: the owner still has them there


def test_deceased_while_the_owner_has_them_living_asks_and_agreeing_does_not() -> None:
    [living] = claims_of([police("life_status", "alive", "2015-01-27"),
                          report("life_status", "deceased", DECEASED)], no_place)
    assert not living.holds and living.kind == "deceased"
    [dead] = claims_of([police("life_status", "deceased", "2026-11-19"),
                        report("life_status", "deceased", DECEASED)], no_place)
    assert dead.holds


def test_a_claim_the_owner_has_no_value_for() -> None:
    [same] = claims_of([report("life_status", "deceased", DECEASED)], no_place)
    assert not same.holds and same.owner_value is None  # the owner should record it
    [gone] = claims_of([report("residence_address", OLD, MOVED_OUT)], no_place)
    assert gone.holds  # nothing stated there to take back


def test_facts_without_a_claim_ask_nothing() -> None:
    assert claims_of([police("residence_address", OLD, "2015-01-27"),
                      Observation("phone", "13800000000", "2026-11-20", GRID, f"{GRID}:GR1")],
                     no_place) == []


def test_an_observer_never_outranks_a_department_and_stands_in_alone() -> None:
    golden, _ = golden_record([police("residence_address", OLD, "2015-01-27"),
                               report("residence_address", NEW, Verification("same", "x"),
                                      "2026-11-30"),
                               Observation("phone", "13800000000", "2026-11-20", GRID,
                                           f"{GRID}:GR1")])
    assert golden["residence_address"].value == OLD
    assert golden["phone"].value == "13800000000" and golden["phone"].source == GRID


def test_a_differs_claim_states_no_value() -> None:
    golden, conflicts = golden_record([report("residence_address", OLD, MOVED_OUT)])
    assert "residence_address" not in golden and conflicts == []


def test_a_report_fills_in_what_the_hub_knows_and_the_worker_left_out() -> None:
    body = GridReport(kind="address_corrected", resident_id="R0123456789abcde",
                      observed_on=datetime.date(2026, 11, 20), address=NEW)
    columns = report_columns(body, "GR1", "511802001001001", "gw-wang",
                             {"name": "张示例", "address": OLD, "birth_date": None})
    assert columns == {"kind": "address_corrected", "resident_id": "R0123456789abcde",
                       "name": "张示例", "address": NEW, "report_id": "GR1",
                       "grid_code": "511802001001001", "reporter": "gw-wang",
                       "observed_on": "2026-11-20"}
