"""Event ids are deterministic: same record and content, same id; any change, a new id."""

from hypothesis import given
from hypothesis import strategies as st

from schemas.events import canonical_json, event_id, make_event

raw_values = st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.text(max_size=12)),
                             max_size=6)


@given(raw=raw_values, record=st.text(min_size=1, max_size=20))
def test_the_same_record_always_gets_the_same_id(raw: dict, record: str) -> None:
    shuffled = dict(reversed(list(raw.items())))
    assert event_id("police", record, raw) == event_id("police", record, shuffled)


@given(raw=raw_values, record=st.text(min_size=1, max_size=20), key=st.text(max_size=8),
       value=st.text(max_size=12))
def test_a_corrected_record_gets_a_new_id(raw: dict, record: str, key: str, value: str) -> None:
    changed = {**raw, key: value}
    if changed != raw:
        assert event_id("police", record, raw) != event_id("police", record, changed)


def test_department_and_record_id_are_part_of_the_id() -> None:
    raw = {"a": "1"}
    assert event_id("police", "R1", raw) != event_id("civil_affairs", "R1", raw)
    assert event_id("police", "R1", raw) != event_id("police", "R2", raw)
    # no ambiguity from concatenation
    assert event_id("police", "R1", {"": "x"}) != event_id("police", "R", {"1": "x"})


def test_where_a_record_was_read_does_not_change_its_id() -> None:
    kind = "hub.police.population_change"
    a = make_event(department="police", event_type=kind, record_id="R1", raw={"k": "v"},
                   parsed={}, origin={"file": "a.csv", "line": 2})
    b = make_event(department="police", event_type=kind, record_id="R1", raw={"k": "v"},
                   parsed={}, origin={"file": "b.csv", "line": 9})
    assert a["id"] == b["id"]
    assert a["specversion"] == "1.0" and a["source"] == "/departments/police"


def test_canonical_json_keeps_chinese_readable_and_is_key_order_free() -> None:
    assert canonical_json({"b": 1, "a": "张"}) == '{"a":"张","b":1}'.encode()
