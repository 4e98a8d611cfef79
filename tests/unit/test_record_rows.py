"""A record's version as the store keeps it: typed columns and one facts text, numbers sealed,
read back to the same features and facts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy import id_keys
from streams import id_protection as ids
from streams.facts import Observation
from streams.features import RecordFeatures, addresses_of
from streams.record_store import (
    FEATURE_COLUMNS,
    STAGED,
    facts_of,
    facts_text,
    features_of_row,
    record_row,
)

KEYRING = ids.new_keyring()
NUMBER = "511803198111163399"
SPOUSE = "511803198305070028"
TEXTS = ("四川省雅安市名山区百丈镇兴隆社区文化路144号8栋3单元1002室", "名山区兴隆社区")


@pytest.fixture(scope="module", autouse=True)
def keyring() -> None:
    """This module's keyring, installed for it: a stack set up before it installs its own."""
    id_keys.install(KEYRING)


def stored(features: RecordFeatures, facts: list[Observation] = ()) -> dict[str, object]:
    return dict(zip(STAGED, record_row(features, "e1", facts), strict=True))


def read_back(row: dict[str, object]) -> RecordFeatures:
    values = {**row, "ref": f"{row['source']}:{row['record_id']}"}
    return features_of_row([values[c] for c in FEATURE_COLUMNS])


def test_features_come_back_as_they_went_in_with_no_number_in_clear() -> None:
    features = RecordFeatures(ref="police:GA1", source="police", person_key="police:R1",
                              id_number=NUMBER, name="曾霞萱", pinyin="zeng xia xuan",
                              birth="1981-11-16", sex="M", addresses=addresses_of(TEXTS),
                              phone="18362999600", version="v1", address_texts=TEXTS,
                              spouses=frozenset({SPOUSE, "11010519491231002X"}))
    row = stored(features)
    assert read_back(row) == features
    assert NUMBER not in json.dumps(row, ensure_ascii=False)
    assert SPOUSE not in json.dumps(row, ensure_ascii=False)
    assert row["id_hash"] == ids.lookup_hash(KEYRING, NUMBER)  # trusted: found by its hash


def test_numbers_no_pattern_recognizes_are_sealed_and_a_suspect_one_is_not_hashed() -> None:
    typo = RecordFeatures(ref="civil_affairs:MZ1", source="civil_affairs",
                          id_digits="5118O3198111163399")
    row = stored(typo)
    assert ids.is_sealed(row["id_digits_sealed"]) and read_back(row) == typo
    suspect = RecordFeatures(ref="civil_affairs:MZ2", source="civil_affairs",
                             id_number=NUMBER, id_suspect=True)
    row = stored(suspect)
    assert row["id_hash"] is None and read_back(row) == suspect


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=20)
    | st.sampled_from([NUMBER, f"配偶 {NUMBER}"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)


@given(st.lists(st.tuples(st.sampled_from(["name", "dibao", "id_number"]), json_values,
                          st.sampled_from(["2015-01-27", "2019", "2016-10-11T09:37:00+08:00"])),
                max_size=6))
def test_facts_come_back_as_they_went_in_with_no_number_in_clear(items) -> None:
    facts = [Observation(a, v, when, "civil_affairs", "civil_affairs:MZ1")
             for a, v, when in items]
    text = facts_text(facts)
    assert NUMBER not in text
    assert facts_of("civil_affairs:MZ1", text) == facts
