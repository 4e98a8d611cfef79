"""The store's JSON text: the same values back as json.dumps would give, big integers too."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from streams.json_text import json_text, json_value

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20)


@given(JSON_VALUES)
def test_any_json_value_reads_back_as_itself(value: object) -> None:
    assert json.loads(json_text(value)) == value
    for text in (json_text(value), json_text(value).encode()):
        back = json_value(text)
        assert back == value and json.dumps(back) == json.dumps(value)  # 2**64 stays an int


def test_integers_beyond_64_bits_are_kept_exactly() -> None:
    value = {"月保障金额": 123456789012345678901234567890, "负": -(2**70)}
    assert json.loads(json_text(value)) == value
    assert json_value(json_text(value)) == value
    assert json_value(json_text([2**64, -(2**63) - 1])) == [2**64, -(2**63) - 1]


def test_chinese_stays_readable_and_keys_that_are_not_strings_become_strings() -> None:
    assert json_text({"姓名": "曾霞萱"}) == '{"姓名":"曾霞萱"}'
    assert json.loads(json_text({1: "a", None: "b"})) == json.loads(json.dumps({1: "a", None: "b"}))
