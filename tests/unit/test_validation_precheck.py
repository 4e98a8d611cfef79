"""jsonschema-rs only lets events through that fastjsonschema lets through: validation_errors
answers, event for event, as fastjsonschema alone did (every refusal and its message)."""

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import registry
from schemas.registry import validation_errors
from tests.samples import sample5_events

EVENTS = sample5_events()


def errors_the_slow_way(event: dict[str, Any], version: int | None = None) -> list[str]:
    """validation_errors with fastjsonschema alone, as before the fast check."""
    errors = registry._errors("envelope", 1, event, "event")
    if errors:
        return errors
    name, wanted = registry._named(event["dataschema"], version)
    if name != event["type"] or (name, wanted) not in registry._schemas():
        return [f"dataschema: no schema {event['dataschema']!r} for type {event['type']!r}"]
    return registry._errors(name, wanted, event["data"]["parsed"], "data.parsed")


# near misses of the schemas' patterns and formats, and values of every JSON type
near_misses = st.one_of(
    st.from_regex(r"\A[0-9]{4}(-[0-9]{1,3}(-[0-9]{1,3})?)?\n?\Z"),
    st.from_regex(r"\A[0-9０-９]{6,13}[0-9Xx]?\n?\Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                  r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?\n?\Z"),
    st.from_regex(r"\A(hub\.[a-z_]+\.[a-z_0-9]+|/departments/[a-z_0-9]+|"
                  r"urn:sanwang:schema:hub\.[a-z_.]+:v[0-9]+|[0-9a-fA-F]{30,34})\n?\Z"),
    st.sampled_from(["M", "F", "X", "registered", "floating", "户籍登记", "birth", "death",
                     "1.0", "application/json", ""]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
              near_misses),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["original", "normalized", "x"]),
                                            inner, max_size=3)),
    max_leaves=8)


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    """A sample event with one to three attributes or parsed values replaced or removed."""
    event = copy.deepcopy(draw(st.sampled_from(EVENTS)))
    event["time"] = draw(st.one_of(near_misses, st.just("2024-01-01T00:00:00Z")))
    for _ in range(draw(st.integers(1, 3))):
        data = event.get("data")
        parsed = data.get("parsed") if isinstance(data, dict) else None
        where = draw(st.sampled_from(["envelope", "parsed", "parsed"]))
        target = parsed if where == "parsed" and isinstance(parsed, dict) else event
        key = draw(st.sampled_from(sorted(target) + ["unknown"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(json_values)
    return event


@settings(max_examples=5000)
@given(event=damaged_events(), version=st.sampled_from([None, 1]))
def test_a_damaged_event_is_answered_as_fastjsonschema_answers(event: dict, version) -> None:
    assert validation_errors(event, version) == errors_the_slow_way(event, version)


def test_the_sample_events_pass_the_fast_check() -> None:
    for event in EVENTS:
        event = {**event, "time": "2026-12-04T17:00:00.123456Z"}
        name, version = registry._named(event["dataschema"], None)
        assert registry._passes_fast("envelope", 1, event), event["id"]
        assert registry._passes_fast(name, version, event["data"]["parsed"]), event["id"]
        assert errors_the_slow_way(event) == []


@pytest.mark.parametrize("time", [
    "2024-01-01T00:00:00+0800", "2024-01-01T00:00:00+08:00", "2024-02-29T23:59:60.5z",
    "2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01 00:00:00Z",
    "２０２４-01-01T00:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00Z\n",
    "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2024-01-01T00:00Z", "2024-1-01T00:00:00Z",
])
def test_date_times_are_answered_as_fastjsonschema_answers(time: str) -> None:
    event = {**EVENTS[0], "time": time}
    assert validation_errors(event) == errors_the_slow_way(event)


def test_what_jsonschema_rs_cannot_read_is_answered_by_fastjsonschema() -> None:
    police = next(e for e in EVENTS if e["source"] == "/departments/police")
    event = copy.deepcopy(police)
    event["data"]["parsed"]["id_number"] = {1: "not a text key"}  # jsonschema-rs raises
    assert not registry._passes_fast("hub.police.population_change", 1, event["data"]["parsed"])
    assert validation_errors(event) == errors_the_slow_way(event) != []
