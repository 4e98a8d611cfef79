"""The spouse a record names links it to its person, whatever order its records come in
(streams/spouses.py). Two households: in the first a marriage registration without number or
birth date names the wife's number, and the wife's own registration names her husband's, not
their son's of the same name at the same address; in the second a wife's registration, her name
short of a character (no blocking key meets her other records), names her husband, whose own
registration names her number."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy import postgres
from deploy.settings import HubSettings
from tests.integration.conftest import hub_settings
from tests.integration.store_runs import clean_snapshot, deliver, reset, snapshot
from tests.integration.test_scale_out import _merge_uncommitted, _run_rechecks
from tests.samples import mapping

HOME = "四川省雅安市名山区百丈镇兴隆社区文化路144号8栋3单元1002室"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid(first17: str) -> str:
    """A number with its GB 11643 check character."""
    return first17 + "10X98765432"[sum(w * int(c) for w, c in zip(WEIGHTS, first17,
                                                                   strict=True)) % 11]


HUSBAND, WIFE, SON = (valid("51180319800512003"), valid("51180319820720002"),
                      valid("51180320200301005"))
HUSBAND_2, WIFE_2 = valid("51182419810521279"), valid("51182419861002364")
HOME_2 = "四川省雅安市石棉县安顺场镇双河村11组69号"


def police(record: str, person: str, number: str, name: str, sex: str, born: str,
           home: str = HOME) -> dict[str, Any]:
    columns = {"变动流水号": record, "人员编号": person, "公民身份号码": number, "姓名": name,
               "性别": sex, "民族": "汉族", "出生日期": born, "户籍地址": home, "现住址": home,
               "联系电话": "", "人员类别": "户籍人口", "变动类型": "出生登记" if born > "2019"
               else "户籍登记", "变动日期": "2020-03-05"}
    return mapping("police")(columns, {"file": "police_population.csv", "line": 2})


def marriage(record: str, number: str, name: str, sex: str, born: str, spouse: str,
             spouse_name: str, address: str = HOME) -> dict[str, Any]:
    columns = {"业务流水号": record, "业务类型": "结婚登记", "身份证号": number, "姓名": name,
               "性别": sex, "出生年月": born, "家庭住址": address, "联系方式": "",
               "办理日期": "2019年7月9日",
               "业务内容": json.dumps({"配偶姓名": spouse_name, "配偶身份证号": spouse},
                                     ensure_ascii=False)}
    return mapping("civil_affairs")(columns, {"file": "civil_affairs.csv", "line": 2})


HOUSEHOLD = [
    police("GA1", "R1", HUSBAND, "任林", "男", "1980-05-12"),
    police("GA2", "R2", SON, "任林", "男", "2020-03-01"),
    police("GA3", "R3", WIFE, "龙芳", "女", "1982-07-20"),
    marriage("MZ1", WIFE, "龙芳", "女", "1982年7月", HUSBAND, "任林"),
    # no number, no birth date, the community for an address: alike to the husband and the son,
    # and too little to link either
    marriage("MZ2", "", "任林", "男", "", WIFE, "龙芳", "名山区百丈镇兴隆社区"),
    police("GB1", "R4", WIFE_2, "白琴静", "女", "1986-10-02", HOME_2),
    police("GB2", "R5", HUSBAND_2, "尹安飞", "男", "1981-05-21", HOME_2),
    marriage("MZ3", HUSBAND_2, "尹安飞", "男", "1981年5月", WIFE_2, "白琴静", HOME_2),
    marriage("MZ4", "", "白琴", "女", "", HUSBAND_2, "尹安飞", HOME_2),
]
SPARSE, MISSPELT = "civil_affairs:MZ2", "civil_affairs:MZ4"


def resident_of(settings: HubSettings, ref: str) -> tuple[list[str], str, list[str]]:
    """The records of `ref`'s resident, and why `ref` is in it (rule, fields that agreed)."""
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn.cursor() as cur:
        cur.execute("SELECT array_agg(m.ref ORDER BY m.ref), l.rule, l.agreed"
                    " FROM hub.source_links l JOIN hub.source_links m USING (resident_id)"
                    " WHERE l.ref = %s GROUP BY l.rule, l.agreed", (ref,))
        members, rule, agreed = cur.fetchone()
    conn.close()
    return members, rule, agreed


@pytest.fixture(scope="module")
def expected(stack: HubSettings) -> dict[str, Any]:
    return clean_snapshot(hub_settings(stack), HOUSEHOLD)


@pytest.mark.parametrize("sparse, person", [
    (SPARSE, "police:GA1"),  # the wife's registration names the husband, not the son
    (MISSPELT, "police:GB1"),  # the husband's names the wife: found with no key in common
])
def test_the_spouses_registration_links_the_sparse_one(stack, sparse, person) -> None:
    settings = hub_settings(stack)
    clean_snapshot(settings, HOUSEHOLD)
    members, rule, agreed = resident_of(settings, sparse)
    assert members == [sparse, person]
    assert rule == "probabilistic" and "spouse" in agreed


def test_without_the_spouses_registration_it_is_not_the_evidence(stack) -> None:
    """The wife's registration decides: without it the sparse one stays apart (so the test
    above can fail)."""
    settings = hub_settings(stack)
    clean_snapshot(settings, [e for e in HOUSEHOLD if e["subject"] not in ("MZ1", "MZ3")])
    assert resident_of(settings, SPARSE)[0] == [SPARSE]
    assert resident_of(settings, MISSPELT)[0] == [MISSPELT]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(HOUSEHOLD))), batch=st.integers(1, 3))
def test_any_order_gives_the_clean_runs_store(stack, expected, order, batch) -> None:
    """The wife's registration arriving after the sparse one links it again."""
    settings = hub_settings(stack)
    reset(settings)
    deliver(settings, [HOUSEHOLD[i] for i in order], batch)
    assert snapshot(settings) == expected


@pytest.mark.parametrize("apart", [
    (3, 4), (4, 0), (3, 0),  # the first household: two of its three records
    (7, 8), (8, 5), (7, 5),  # the second
])
def test_concurrent_merges_meet_in_a_recheck(stack, expected, apart) -> None:
    """The evidence's three records: a registration naming a spouse, that spouse's own, and the
    record of the number it names. Two of them are merged by two workers, the second before the
    first commits; whichever starts first, the rechecks give the clean run."""
    settings = hub_settings(stack)
    for first, second in (apart, apart[::-1]):
        reset(settings)
        rest = [e for i, e in enumerate(HOUSEHOLD) if i not in apart]
        deliver(settings, rest, len(rest))
        _merge_side_by_side(settings, HOUSEHOLD[first], HOUSEHOLD[second])
        _run_rechecks(settings)
        assert snapshot(settings) == expected, (first, second)


def _merge_side_by_side(settings: HubSettings, first: dict, second: dict) -> None:
    """`second` merged while `first`'s merge is open; `first` commits once `second` is done
    or waits for one of its locks."""
    opened = _merge_uncommitted(settings, [first])
    later: list[Any] = []
    thread = threading.Thread(target=lambda: later.append(_merge_uncommitted(settings,
                                                                             [second])))
    thread.start()
    with psycopg2.connect(postgres.dsn(settings)) as conn, conn.cursor() as cur:
        while thread.is_alive():
            cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cur.fetchone()[0]:
                break
            conn.rollback()
            time.sleep(0.02)
    opened.commit()
    opened.close()
    thread.join()
    later[0].commit()
    later[0].close()
