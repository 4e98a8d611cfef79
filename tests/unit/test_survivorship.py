"""Tests for streams.survivorship: the owner's latest value, fall-backs, conflicts and history.

Observations are built directly; a last group of tests reads the sample city's events through
observations_of and checks the golden records of the people findings.csv plants traps on.
"""

from __future__ import annotations

import copy
import csv
from collections import defaultdict
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.departments import all_attributes
from streams.facts import Observation, observations_of
from streams.features import record_ref
from streams.survivorship import (
    Conflict,
    golden_record,
    history,
    owner_of,
    value_as_of,
)
from tests.samples import SAMPLE, sample_events

DEPARTMENTS = ("police", "civil_affairs", "social_security")
OWNER = {attribute: owner_of(attribute) for attribute in all_attributes()}
OWNED = sorted(a for a, owner in OWNER.items() if owner is not None)
DATES = ("2015-01-27", "2016-10-11", "2016-10-11T09:37:00+08:00", "2019-07-09", "2019-07-09",
         "2021", "2021-03", "2024-12-31")


def obs(attribute: str, value: Any, valid_from: str, source: str, record_id: str = "1"
        ) -> Observation:
    return Observation(attribute, value, valid_from, source, f"{source}:{record_id}")


def latest(observations: list[Observation]) -> Observation:
    """Reference: the latest by when it happened, ties to the larger record ref."""
    best = observations[0]
    for o in observations[1:]:
        if o.valid_from > best.valid_from or (o.valid_from == best.valid_from
                                              and o.record > best.record):
            best = o
    return best


@st.composite
def observation_lists(draw: st.DrawFn, attribute: str = "name",
                      sources: tuple[str, ...] = DEPARTMENTS) -> list[Observation]:
    """Observations of one attribute, one per record (a record states a fact once)."""
    items = draw(st.lists(st.tuples(st.sampled_from(sources), st.integers(1, 6),
                                    st.sampled_from(DATES), st.sampled_from("ABC")),
                          min_size=1, max_size=10, unique_by=lambda t: (t[0], t[1])))
    return [obs(attribute, value, when, source, f"R{n}") for source, n, when, value in items]


def shuffled_with_duplicates(data: st.DataObject, items: list[Observation]
                             ) -> list[Observation]:
    extra = data.draw(st.lists(st.sampled_from(items), max_size=5))
    return data.draw(st.permutations(items + extra))


# --- the owner's latest value --------------------------------------------------------------


@given(observation_lists(attribute="residence_address"), st.data())
def test_the_owners_latest_value_wins_whatever_the_input_order(found: list[Observation],
                                                               data: st.DataObject) -> None:
    owned = [o for o in found if o.source == "police"]
    golden, _ = golden_record(shuffled_with_duplicates(data, found))
    value = golden["residence_address"]
    expected = latest(owned or found)
    assert (value.value, value.valid_from, value.record) == (
        expected.value, expected.valid_from, expected.record)
    assert value.authority == ("owner" if owned else "observed")
    if owned:
        assert value.source == "police"


@given(observation_lists(attribute="name"), st.data())
def test_golden_record_and_conflicts_do_not_depend_on_order(found: list[Observation],
                                                            data: st.DataObject) -> None:
    golden, conflicts = golden_record(found)
    assert golden_record(data.draw(st.permutations(found))) == (golden, conflicts)
    again, repeated = golden_record(shuffled_with_duplicates(data, found))
    assert again == golden
    assert set(repeated) == set(conflicts)  # a duplicated observation may repeat its conflict


@pytest.mark.parametrize("attribute", OWNED)
def test_a_later_value_from_another_department_never_overrides_the_owner(attribute: str
                                                                         ) -> None:
    owner = OWNER[attribute]
    others = [d for d in DEPARTMENTS if d != owner]
    found = [obs(attribute, "owner's", "2015-01-01", owner),
             obs(attribute, "newer", "2024-01-01", others[0], "9"),
             obs(attribute, "newest", "2025-06-01T10:00:00+08:00", others[1], "9")]
    golden, _ = golden_record(found)
    assert golden[attribute].value == "owner's"
    assert golden[attribute].authority == "owner"
    assert golden[attribute].source == owner


def test_the_owners_later_value_replaces_its_earlier_one() -> None:
    found = [obs("residence_address", "old", "2015-01-27", "police", "GA1"),
             obs("residence_address", "new", "2019-07-09", "police", "GA0"),
             obs("residence_address", "other", "2024-01-01", "civil_affairs", "MZ1")]
    value = golden_record(found)[0]["residence_address"]
    assert (value.value, value.valid_from, value.record) == ("new", "2019-07-09", "police:GA0")


def test_when_the_fact_happened_counts_not_the_input_order() -> None:
    found = [obs("life_status", "deceased", "2024-05-01", "police", "GA2"),
             obs("life_status", "alive", "2015-01-27", "police", "GA3")]
    assert golden_record(found)[0]["life_status"].value == "deceased"
    assert golden_record(found[::-1])[0]["life_status"].value == "deceased"


def test_a_tie_on_valid_from_goes_to_the_larger_record() -> None:
    found = [obs("ethnicity", "汉族", "2019-07-09", "police", "GA9"),
             obs("ethnicity", "彝族", "2019-07-09", "police", "GA10")]
    for order in (found, found[::-1]):
        value = golden_record(order)[0]["ethnicity"]
        assert (value.value, value.record) == ("汉族", "police:GA9")  # "GA9" > "GA10" as text


def test_without_an_owner_value_the_latest_observation_stands_in_as_observed() -> None:
    found = [obs("residence_address", "ca", "2019-07-09", "civil_affairs", "MZ1"),
             obs("residence_address", "ss", "2021-03-01T09:00:00+08:00", "social_security", "R1"),
             obs("residence_address", "ca-old", "2016-10-11", "civil_affairs", "MZ2")]
    value = golden_record(found)[0]["residence_address"]
    assert (value.value, value.source, value.authority) == ("ss", "social_security", "observed")


def test_an_owner_value_ends_the_stand_in() -> None:
    found = [obs("residence_address", "ss", "2021-03-01T09:00:00+08:00", "social_security"),
             obs("residence_address", "police", "2015-01-27", "police")]
    value = golden_record(found)[0]["residence_address"]
    assert (value.value, value.authority) == ("police", "owner")


def test_the_phone_has_no_owner_so_the_latest_from_any_department_wins() -> None:
    found = [obs("phone", "13900000001", "2015-01-27", "police"),
             obs("phone", "13900000002", "2019-07-09", "civil_affairs"),
             obs("phone", "13900000003", "2016-10-11T09:37:00+08:00", "social_security")]
    value = golden_record(found)[0]["phone"]
    assert (value.value, value.source) == ("13900000002", "civil_affairs")
    assert value.authority not in ("owner", "observed")  # no department owns the phone


def test_each_attribute_is_decided_on_its_own() -> None:
    found = [obs("name", "王伟", "2015-01-27", "police"),
             obs("pension", {"status": "active"}, "2016-10-11T09:37:00+08:00", "social_security"),
             obs("dibao", {"monthly": 640}, "2019-07-09", "civil_affairs"),
             obs("phone", "13900000001", "2019-07-09", "civil_affairs")]
    golden, conflicts = golden_record(found)
    assert list(golden) == ["dibao", "name", "pension", "phone"]
    assert {a: v.source for a, v in golden.items()} == {
        "dibao": "civil_affairs", "name": "police", "pension": "social_security",
        "phone": "civil_affairs"}
    assert conflicts == []


def test_no_observations_no_golden_record() -> None:
    assert golden_record([]) == ({}, [])
    assert history([]) == []


# --- conflicts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("attribute", "owner_value", "other_value"), [
    ("name", "王伟", "王玮"),  # a homophone is still a different spelling
    ("name", "王伟", "李伟"),
    ("sex", "M", "F"),
    ("birth_date", "1956-03-12", "1956-03-21"),
    ("birth_date", "1956-03-12", "1956-04"),
    ("birth_date", "1956-03-12", "1957"),
    ("birth_date", "1956-03", "1956-04-12"),
])
def test_a_contradicting_name_sex_or_birth_date_is_a_conflict(attribute: str, owner_value: str,
                                                               other_value: str) -> None:
    found = [obs(attribute, owner_value, "2015-01-27", "police", "GA1"),
             obs(attribute, other_value, "2019-07-09", "civil_affairs", "MZ1")]
    assert golden_record(found)[1] == [
        Conflict(attribute, owner_value, other_value, "police:GA1", "civil_affairs:MZ1")]


@pytest.mark.parametrize(("attribute", "owner_value", "other_value"), [
    ("name", "王伟", "王伟"),
    ("name", "陈伟", "陳偉"),  # traditional characters
    ("name", "王伟", "王 伟"),  # stray space
    ("name", "阿依古丽·买买提", "阿依古丽．买买提"),
    ("sex", "F", "F"),
    ("birth_date", "1956-03-12", "1956-03-12"),
    ("birth_date", "1956-03-12", "1956-03"),  # a partial date that is a prefix of the owner's
    ("birth_date", "1956-03-12", "1956"),
    ("birth_date", "1956-03", "1956-03-12"),
])
def test_an_agreeing_or_abbreviating_value_is_not_a_conflict(attribute: str, owner_value: str,
                                                              other_value: str) -> None:
    found = [obs(attribute, owner_value, "2015-01-27", "police", "GA1"),
             obs(attribute, other_value, "2019-07-09", "social_security", "RS1")]
    assert golden_record(found)[1] == []


@pytest.mark.parametrize("attribute", ["residence_address", "ethnicity", "phone",
                                       "marital_status", "pension"])
def test_other_attributes_never_conflict(attribute: str) -> None:
    owner = OWNER[attribute] or "police"
    other = next(d for d in DEPARTMENTS if d != owner)
    found = [obs(attribute, "one", "2015-01-27", owner), obs(attribute, "two", "2019-07-09", other)]
    assert golden_record(found)[1] == []


def test_without_an_owner_value_nothing_conflicts() -> None:
    found = [obs("name", "王伟", "2015-01-27", "civil_affairs"),
             obs("name", "李娜", "2019-07-09", "social_security")]
    golden, conflicts = golden_record(found)
    assert golden["name"].authority == "observed" and conflicts == []


def test_conflicts_are_against_the_owners_current_value_only() -> None:
    found = [obs("name", "王伟", "2015-01-27", "police", "GA1"),
             obs("name", "王炜", "2020-05-01", "police", "GA2"),  # renamed
             obs("name", "王伟", "2016-10-11T09:37:00+08:00", "social_security", "RS1"),
             obs("name", "王炜", "2021-01-01", "civil_affairs", "MZ1")]
    assert golden_record(found)[1] == [
        Conflict("name", "王炜", "王伟", "police:GA2", "social_security:RS1")]


def test_conflicts_come_sorted_by_attribute_then_record() -> None:
    found = [obs("sex", "M", "2015-01-27", "police", "GA1"),
             obs("name", "王伟", "2015-01-27", "police", "GA1"),
             obs("sex", "F", "2019-07-09", "social_security", "RS1"),
             obs("name", "李娜", "2019-07-09", "social_security", "RS1"),
             obs("name", "张三", "2019-07-09", "civil_affairs", "MZ1")]
    conflicts = golden_record(found[::-1])[1]
    assert [(c.attribute, c.other_record) for c in conflicts] == [
        ("name", "civil_affairs:MZ1"), ("name", "social_security:RS1"),
        ("sex", "social_security:RS1")]


def test_timestamps_in_different_offsets_sort_by_the_instant() -> None:
    """observations_of puts every timestamp in China's time, so text order is time order."""
    event = next(e for e in sample_events() if e["source"] == "/departments/social_security")

    def pension(status: str, occurred: str, serial: str) -> list:
        changed = copy.deepcopy(event)
        changed["subject"] = serial
        changed["data"]["parsed"] |= {"event": f"pension.{status}", "occurred": occurred,
                                      "payload": {}}
        return [o for o in observations_of(changed) if o.attribute == "pension"]

    started = pension("started", "2020-01-01T09:00:00+08:00", "RS1")  # 01:00 UTC
    stopped = pension("stopped", "2020-01-01T05:00:00+00:00", "RS2")  # 05:00 UTC, later
    assert stopped[0].valid_from == "2020-01-01T13:00:00+08:00"
    golden = golden_record([*stopped, *started])[0]["pension"]
    assert golden.value["status"] == "stopped"


# --- history and value_as_of ---------------------------------------------------------------


def test_history_chains_each_value_to_the_next() -> None:
    found = [obs("residence_address", "B", "2018-06-01", "police", "GA2"),
             obs("residence_address", "A", "2015-01-27", "police", "GA1"),
             obs("residence_address", "C", "2022-09-30", "police", "GA3"),
             obs("residence_address", "X", "2020-01-01", "civil_affairs", "MZ1")]
    rows = history(found)
    assert [(o.value, o.valid_from, valid_to) for o, valid_to in rows] == [
        ("A", "2015-01-27", "2018-06-01"),
        ("B", "2018-06-01", "2022-09-30"),
        ("C", "2022-09-30", None),
    ]


def test_history_without_an_owner_value_chains_the_observations() -> None:
    found = [obs("residence_address", "Y", "2021-03-01T09:00:00+08:00", "social_security"),
             obs("residence_address", "X", "2019-07-09", "civil_affairs")]
    assert [(o.value, to) for o, to in history(found)] == [
        ("X", "2021-03-01T09:00:00+08:00"), ("Y", None)]


def test_history_lists_attributes_in_order_each_with_its_own_chain() -> None:
    found = [obs("sex", "M", "2015-01-27", "police", "GA1"),
             obs("name", "王伟", "2015-01-27", "police", "GA1"),
             obs("name", "王炜", "2020-05-01", "police", "GA2")]
    assert [(o.attribute, o.value, to) for o, to in history(found)] == [
        ("name", "王伟", "2020-05-01"), ("name", "王炜", None), ("sex", "M", None)]


@given(observation_lists(attribute="residence_address"), st.data())
def test_history_is_a_chain_ending_in_the_golden_value(found: list[Observation],
                                                       data: st.DataObject) -> None:
    rows = history(found)
    assert rows == history(data.draw(st.permutations(found)))
    assert rows[-1][1] is None
    for (o, valid_to), (following, _) in zip(rows, rows[1:], strict=False):
        assert valid_to == following.valid_from
        assert (o.valid_from, o.record) < (following.valid_from, following.record)
    golden = golden_record(found)[0]["residence_address"]
    assert (rows[-1][0].value, rows[-1][0].record) == (golden.value, golden.record)
    sources = {o.source for o, _ in rows}
    assert sources == ({"police"} if any(o.source == "police" for o in found)
                       else {o.source for o in found})


def test_value_as_of_before_at_and_after_each_change() -> None:
    rows = history([obs("residence_address", "A", "2015-01-27", "police", "GA1"),
                    obs("residence_address", "B", "2018-06-01", "police", "GA2"),
                    obs("residence_address", "C", "2022-09-30", "police", "GA3")])
    expected = {
        "2015-01-26": None,
        "2015-01-27": "A",
        "2016-12-31": "A",
        "2018-05-31": "A",
        "2018-06-01": "B",
        "2018-06-02": "B",
        "2022-09-29": "B",
        "2022-09-30": "C",
        "2030-01-01": "C",
    }
    assert {when: value_as_of(rows, "residence_address", when) for when in expected} == expected


def test_value_as_of_reads_timestamps_by_their_date() -> None:
    rows = history([obs("pension", {"status": "active"}, "2016-10-11T09:37:00+08:00",
                        "social_security", "RS1"),
                    obs("pension", {"status": "stopped"}, "2024-03-05T16:00:00+08:00",
                        "social_security", "RS2")])
    assert value_as_of(rows, "pension", "2016-10-10") is None
    assert value_as_of(rows, "pension", "2016-10-11") == {"status": "active"}
    assert value_as_of(rows, "pension", "2024-03-04") == {"status": "active"}
    assert value_as_of(rows, "pension", "2024-03-05") == {"status": "stopped"}


def test_value_as_of_an_attribute_without_history_is_none() -> None:
    rows = history([obs("name", "王伟", "2015-01-27", "police")])
    assert value_as_of(rows, "sex", "2030-01-01") is None
    assert value_as_of([], "name", "2030-01-01") is None


@given(observation_lists(attribute="residence_address"),
       st.dates().map(lambda d: d.isoformat()))
def test_value_as_of_is_the_last_value_begun_by_then(found: list[Observation], when: str
                                                     ) -> None:
    rows = history(found)
    begun = [o for o, _ in rows if o.valid_from[:10] <= when]
    expected = latest(begun).value if begun else None
    assert value_as_of(rows, "residence_address", when) == expected
    assert value_as_of(rows, "residence_address", "9999-12-31") == (
        golden_record(found)[0]["residence_address"].value)


# --- the sample city -----------------------------------------------------------------------


@cache
def sample_observations() -> dict[str, list[Observation]]:
    """Every sample person's observations, grouped by truth.csv."""
    with open(SAMPLE / "truth.csv", encoding="utf-8-sig", newline="") as file:
        truth = {f"{r['source']}:{r['record_id']}": r["person"] for r in csv.DictReader(file)}
    by_person: dict[str, list[Observation]] = defaultdict(list)
    for event in sample_events():
        by_person[truth[record_ref(event)]] += observations_of(event)
    return dict(by_person)


@cache
def findings() -> dict[str, list[str]]:
    with open(SAMPLE / "findings.csv", encoding="utf-8", newline="") as file:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for row in csv.DictReader(file):
            by_kind[row["kind"]].append(row["person"])
    return dict(by_kind)


def test_deceased_people_with_an_active_pension_keep_both_facts() -> None:
    people = findings()["deceased_with_active_pension"]
    assert people
    for person in people:
        golden, _ = golden_record(sample_observations()[person])
        assert golden["life_status"].value == "deceased"
        assert golden["life_status"].source == "police"
        assert golden["pension"].value["status"] == "active"
        assert golden["pension"].source == "social_security"


def test_cremated_but_not_deregistered_people_are_alive_to_the_police() -> None:
    for person in findings()["cremated_not_deregistered"]:
        golden, _ = golden_record(sample_observations()[person])
        assert golden["life_status"].value == "alive"
        assert golden["cremation"].source == "civil_affairs"


def test_every_sample_golden_record_takes_owned_attributes_from_their_owner() -> None:
    for found in sample_observations().values():
        golden, conflicts = golden_record(found)
        for attribute, value in golden.items():
            owner = OWNER.get(attribute)
            if owner is not None and any(o.source == owner for o in found
                                         if o.attribute == attribute):
                assert (value.source, value.authority) == (owner, "owner")
        for conflict in conflicts:
            assert conflict.attribute in ("name", "sex", "birth_date")
            assert conflict.owner_record.startswith("police:")
            assert not conflict.other_record.startswith("police:")
