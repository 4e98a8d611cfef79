"""Facts held by version: a held version is not read again, another version is, and no more
than HELD_VERSIONS are kept."""

from __future__ import annotations

from typing import Any

import pytest

from deploy import id_keys
from streams import held_facts
from streams import id_protection as ids
from streams.facts import Observation
from streams.record_store import facts_text


class _Rows:
    """A cursor over stored (ref, version, facts) rows that counts the refs it was asked for."""

    def __init__(self, rows: dict[str, tuple[str, str]]) -> None:
        self.rows, self.asked, self._found = rows, [], []

    def execute(self, sql: str, args: tuple[list[str]]) -> None:
        self.asked += args[0]
        self._found = [(ref, *self.rows[ref]) for ref in args[0] if ref in self.rows]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._found


def _facts(ref: str, name: str) -> list[Observation]:
    return [Observation("name", name, "2020-01-01", ref.split(":")[0], ref),
            Observation("id_number", "511803198111163399", "2020-01-01", ref.split(":")[0], ref)]


@pytest.fixture(autouse=True)
def empty(monkeypatch: pytest.MonkeyPatch) -> None:
    id_keys.install(ids.new_keyring())
    monkeypatch.setattr(held_facts, "_held", type(held_facts._held)())


def test_a_held_version_is_served_and_another_is_read_from_its_row() -> None:
    stored = {"police:GA1": ("v2", facts_text(_facts("police:GA1", "曾霞萱")))}
    held_facts.hold({"police:GA1": "v1"}, {"police:GA1": _facts("police:GA1", "旧名")})
    cur = _Rows(stored)
    assert held_facts.load_facts(cur, {"police:GA1": "v1"}) == {
        "police:GA1": _facts("police:GA1", "旧名")}
    assert cur.asked == []
    assert held_facts.load_facts(cur, {"police:GA1": "v2"}) == {
        "police:GA1": _facts("police:GA1", "曾霞萱")}
    assert cur.asked == ["police:GA1"]
    assert held_facts.load_facts(cur, {"police:GA1": "v2"})["police:GA1"][0].value == "曾霞萱"
    assert cur.asked == ["police:GA1"], "read once, then held"


def test_no_more_than_the_bound_is_held_and_the_least_used_goes_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(held_facts, "HELD_VERSIONS", 3)
    refs = [f"police:GA{i}" for i in range(4)]
    cur = _Rows({ref: ("v", facts_text(_facts(ref, "x"))) for ref in refs})
    held_facts.load_facts(cur, {ref: "v" for ref in refs[:3]})
    held_facts.load_facts(cur, {refs[0]: "v"})  # used again: GA1 is now the least used
    held_facts.load_facts(cur, {refs[3]: "v"})
    cur.asked.clear()
    held_facts.load_facts(cur, {ref: "v" for ref in refs})
    assert cur.asked == [refs[1]]
    assert len(held_facts._held) == 3
