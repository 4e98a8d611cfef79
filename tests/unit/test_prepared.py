"""psycopg2's placeholders as a prepared statement's parameters (streams/prepared.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.prepared import as_prepared


def test_positional_placeholders_are_numbered_in_order() -> None:
    assert as_prepared("SELECT a FROM t WHERE a = ANY(%s) AND b < %s") == (
        "SELECT a FROM t WHERE a = ANY($1) AND b < $2", [0, 1])


def test_a_named_placeholder_used_twice_is_one_parameter() -> None:
    assert as_prepared("SELECT 1 WHERE (a = ANY(%(r)s) OR b = ANY(%(r)s)) AND c = %(c)s") == (
        "SELECT 1 WHERE (a = ANY($1) OR b = ANY($1)) AND c = $2", ["r", "c"])


def test_an_escaped_percent_is_a_percent_again() -> None:
    assert as_prepared("SELECT key FROM k WHERE key LIKE 'id:%%' AND ref = %s") == (
        "SELECT key FROM k WHERE key LIKE 'id:%' AND ref = $1", [0])


@given(names=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=12))
def test_each_parameter_takes_the_value_its_placeholder_named(names: list[str]) -> None:
    text, keys = as_prepared(" ".join(f"%({name})s" for name in names))
    numbers = [int(token[1:]) for token in text.split()]
    assert [keys[n - 1] for n in numbers] == names
    assert sorted(set(numbers)) == list(range(1, len(set(names)) + 1))
