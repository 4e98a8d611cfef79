"""Facts held by version: the store says which version is current, and only a version not held
is sent and decoded; no more than HELD_RECORDS are kept, the least used going first."""

from __future__ import annotations

from typing import Any

import pytest

from deploy import id_keys
from streams import held_facts
from streams import id_protection as ids
from streams.facts import Observation
from streams.record_store import facts_text


class _Store:
    """A cursor over stored (version, facts) rows, answering load_facts' statement as
    PostgreSQL would, and counting the facts texts it sent."""

    def __init__(self, rows: dict[str, tuple[str, str]]) -> None:
        self.rows, self.sent, self._found = rows, [], []

    def execute(self, sql: str, args: tuple[list[str], list[str | None]]) -> None:
        self._found = [(ref, self.rows[ref][0],
                        None if held == self.rows[ref][0] else self.rows[ref][1])
                       for ref, held in zip(*args, strict=True) if ref in self.rows]
        self.sent += [ref for ref, _, text in self._found if text is not None]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._found


def _facts(ref: str, name: str) -> list[Observation]:
    return [Observation("name", name, "2020-01-01", ref.split(":")[0], ref),
            Observation("id_number", "511803198111163399", "2020-01-01", ref.split(":")[0], ref)]


@pytest.fixture(autouse=True)
def empty(monkeypatch: pytest.MonkeyPatch) -> None:
    id_keys.install(ids.new_keyring())
    monkeypatch.setattr(held_facts, "_held", type(held_facts._held)())


def test_the_stored_version_wins_and_is_sent_once() -> None:
    store = _Store({"police:GA1": ("v2", facts_text(_facts("police:GA1", "曾霞萱")))})
    held_facts.hold({"police:GA1": ("v1", _facts("police:GA1", "旧名"))})
    assert held_facts.load_facts(store, ["police:GA1"]) == {
        "police:GA1": _facts("police:GA1", "曾霞萱")}, "v1 is held, but v2 is stored"
    assert held_facts.load_facts(store, ["police:GA1"]) == {
        "police:GA1": _facts("police:GA1", "曾霞萱")}
    assert store.sent == ["police:GA1"], "sent once, then held"
    assert held_facts.load_facts(store, ["police:GA9"]) == {}, "a record not stored has none"


def test_a_landing_version_is_not_sent_again() -> None:
    store = _Store({"police:GA1": ("v1", facts_text(_facts("police:GA1", "曾霞萱")))})
    held_facts.hold({"police:GA1": ("v1", _facts("police:GA1", "曾霞萱"))})
    assert held_facts.load_facts(store, ["police:GA1"])["police:GA1"][0].value == "曾霞萱"
    assert store.sent == []


def test_no_more_than_the_bound_is_held_and_the_least_used_goes_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(held_facts, "HELD_RECORDS", 3)
    refs = [f"police:GA{i}" for i in range(4)]
    store = _Store({ref: ("v", facts_text(_facts(ref, "x"))) for ref in refs})
    held_facts.load_facts(store, refs[:3])
    held_facts.load_facts(store, refs[:1])  # used again: GA1 is now the least used
    held_facts.load_facts(store, refs[3:])
    store.sent.clear()
    assert held_facts.load_facts(store, refs) == {ref: _facts(ref, "x") for ref in refs}
    assert store.sent == [refs[1]]
    assert len(held_facts._held) == 3
