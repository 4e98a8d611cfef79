"""The merge is idempotent and order-free: any order, duplicates, batch sizes and a crashed
batch give the same store as a clean run (same grouping, same golden values)."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy import postgres
from deploy.settings import HubSettings
from schemas.events import make_event
from streams import landing
from streams.landing import ConsumedEvent, HubStore
from tests.integration.conftest import hub_settings
from tests.samples import SAMPLE, sample_events

TABLES = ("events", "source_records", "record_keys", "match_edges", "residents", "source_links",
          "resident_history", "conflicts", "review_queue", "change_outbox")


def _corpus(people: int = 14) -> list[dict[str, Any]]:
    """Every record of a few sample persons (chosen for their hard cases), plus a correction."""
    truth: dict[str, str] = {}
    for line in (SAMPLE / "truth.csv").read_text().splitlines()[1:]:
        source, record, person = line.split(",")
        truth[f"{source}:{record}"] = person
    by_person: dict[str, list[dict]] = defaultdict(list)
    for event in sample_events():
        by_person[truth[event["source"].rsplit("/", 1)[-1] + ":" + event["subject"]]].append(event)
    hard = sorted(by_person, key=lambda p: (-len({department(e) for e in by_person[p]}),
                                            -_dirt(by_person[p]), p))
    chosen = [e for p in hard[:people] for e in by_person[p]]
    first_police = next(e for e in chosen if department(e) == "police")
    return [*chosen, _corrected(first_police)]


def department(event: dict) -> str:
    return event["source"].rsplit("/", 1)[-1]


def _dirt(events: list[dict]) -> int:
    return sum(1 for e in events if not (e["data"]["parsed"]["id_number"] or {}).get("normalized"))


def _corrected(event: dict) -> dict:
    """The same police row corrected in place later (gxsj moved): a new event, a new address."""
    raw = {**event["data"]["raw"], "现住址": "四川省雅安市雨城区东城街道金鸡社区人民路1号"}
    parsed = {**event["data"]["parsed"], "residence_address": raw["现住址"]}
    return make_event(department="police", event_type=event["type"], record_id=event["subject"],
                      raw=raw, parsed=parsed, origin={"table": "t_rk_bdjl",
                                                      "gxsj": "2026-11-27 00:00:00+00"})


CORPUS = _corpus()


def _reset(settings: HubSettings) -> None:
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(f"hub.{t}" for t in TABLES))
    conn.close()


def _apply(store: HubStore, events: list[dict]) -> None:
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(events)])


def _snapshot(settings: HubSettings) -> dict[str, Any]:
    """The store with resident ids replaced by their records: comparable across runs."""
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn.cursor() as cur:
        cur.execute("SELECT resident_id, array_agg(source || ':' || record_id ORDER BY 1)"
                    " FROM hub.source_links GROUP BY 1")
        members = {resident: tuple(sorted(refs)) for resident, refs in cur.fetchall()}
        cur.execute("SELECT resident_id, attributes, record_count FROM hub.residents")
        golden = {members[r]: (json.dumps(a, sort_keys=True, ensure_ascii=False), n)
                  for r, a, n in cur.fetchall()}
        cur.execute("SELECT resident_id, attribute, value::text, valid_from, record_ref"
                    " FROM hub.resident_history")
        history = sorted((members[r], *rest) for r, *rest in cur.fetchall())
        cur.execute("SELECT resident_id, kind, attribute, details::text FROM hub.conflicts")
        conflicts = sorted((members[r], *rest) for r, *rest in cur.fetchall())
    conn.close()
    return {"groups": sorted(members.values()), "golden": golden, "history": history,
            "conflicts": conflicts}


@pytest.fixture(scope="module")
def clean_run(stack: HubSettings) -> tuple[HubSettings, dict[str, Any]]:
    """One database for the module, and the store a clean run of the corpus leaves."""
    settings = hub_settings(stack)
    _reset(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    _apply(store, sorted(CORPUS, key=lambda e: e["id"]))
    store.close()
    return settings, _snapshot(settings)


class Crash(Exception):
    """Raised inside a batch's transaction: nothing of it may remain."""


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(CORPUS))),
       duplicates=st.lists(st.integers(0, len(CORPUS) - 1), max_size=12),
       batch=st.integers(1, 25), crash_at=st.integers(0, 6))
def test_any_delivery_gives_the_clean_runs_store(clean_run, order, duplicates, batch,
                                                 crash_at) -> None:
    settings, expected = clean_run
    _reset(settings)
    delivery = [copy.deepcopy(CORPUS[i]) for i in [*order, *duplicates]]
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        for n, start in enumerate(range(0, len(delivery), batch)):
            chunk = delivery[start:start + batch]
            if n == crash_at:
                _crash_inside(store, chunk)
            _apply(store, chunk)  # redelivered after the crash, or delivered once
    finally:
        store.close()
    assert _snapshot(settings) == expected


def _crash_inside(store: HubStore, chunk: list[dict]) -> None:
    """Land and merge the batch, then fail before the commit, as a killed worker would."""
    real = landing.merge_events

    def merge_then_crash(*args: Any) -> None:
        real(*args)
        raise Crash

    landing.merge_events = merge_then_crash
    try:
        with pytest.raises(Crash):
            _apply(store, chunk)
    finally:
        landing.merge_events = real


def test_the_clean_run_merged_across_departments(clean_run) -> None:
    _, expected = clean_run
    sources = [{ref.split(":")[0] for ref in group} for group in expected["groups"]]
    assert any(len(s) == 3 for s in sources), "some resident links all three departments"
    assert len(expected["groups"]) == 14
