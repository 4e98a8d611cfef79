"""canonical_json writes, for every value, the bytes json.dumps always wrote: event ids are hashed
over them (existing stores deduplicate by id) and the events on the topics are made of them."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import canonical_json

# every code point, lone surrogates included (what a "\ud800" escape in a JSON export gives)
any_text = st.text(st.characters(exclude_categories=()), max_size=12)
escapes = st.sampled_from(['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
                           "\u2028", "\u2029", "\ufeff", "张", "\U0001f600", "\ud800"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(), any_text, st.lists(escapes, max_size=6).map("".join))
json_values = st.recursive(
    scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(any_text, escapes), inner, max_size=5)),
    max_leaves=40)


def json_dumps_canonical(value: Any) -> bytes:
    """The definition: what canonical_json wrote before orjson."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def outcome(write: Any, value: Any) -> bytes | type:
    try:
        return write(value)
    except (ValueError, TypeError, RecursionError) as error:
        return type(error)


@settings(max_examples=2000)
@given(value=json_values)
def test_the_bytes_and_refusals_are_json_dumps_ones(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(json_dumps_canonical, value)


@pytest.mark.parametrize("value", [
    1e16, 1e-7, 0.1, -0.0, 1.0, float("inf"), float("nan"), 2**64, -(2**63) - 1, "\ud800",
    {"\ud800": 1}, {1: "a"}, {"b": 1e22, "a": [1.5, {"x": None}]}, ("a", 1),
    {"\uffff": 1, "\U00010000": 2, "\ue000": 3}, [[[[]]]] * 3,
])
def test_the_values_orjson_spells_otherwise_or_refuses_are_json_dumps_ones(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(json_dumps_canonical, value)


def test_deeper_than_orjson_goes_is_json_dumps_ones() -> None:
    deep: Any = "leaf"
    for _ in range(300):  # orjson stops at 255 levels
        deep = {"k": [deep]}
    assert canonical_json(deep) == json_dumps_canonical(deep)


def test_refusals_are_value_errors_as_the_mapping_expects() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("inf")})
    with pytest.raises(ValueError):
        canonical_json({"x": "\udc80"})
