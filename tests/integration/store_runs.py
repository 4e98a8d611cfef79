"""Runs of the processor's store logic against the real database, for the convergence and
delivery tests: a corpus of hard sample persons, delivery, crashes and a comparable snapshot."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from connectors.file_backfill import source_for
from connectors.records import MappingError
from deploy import postgres
from deploy.settings import HubSettings
from schemas.events import make_event
from schemas.registry import validation_errors
from streams import landing
from streams.landing import ConsumedEvent, HubStore
from tests.samples import EXPORTS, SAMPLE, sample_events

TABLES = ("events", "source_records", "record_keys", "record_relations", "match_edges",
          "residents", "golden_values", "source_links", "resident_findings", "conflicts",
          "review_queue",
          "change_outbox", "merge_rechecks")


def sample_persons() -> dict[str, list[dict[str, Any]]]:
    """The sample's events by the person they are about (truth.csv)."""
    truth: dict[str, str] = {}
    for line in (SAMPLE / "truth.csv").read_text().splitlines()[1:]:
        source, record, person = line.split(",")
        truth[f"{source}:{record}"] = person
    by_person: dict[str, list[dict]] = defaultdict(list)
    for event in sample_events():
        by_person[truth[event["source"].rsplit("/", 1)[-1] + ":" + event["subject"]]].append(event)
    return by_person


def corpus(people: int = 14) -> list[dict[str, Any]]:
    """Every record of a few sample persons (chosen for their hard cases), plus a correction."""
    by_person = sample_persons()
    hard = sorted(by_person, key=lambda p: (-len({department(e) for e in by_person[p]}),
                                            -_dirt(by_person[p]), p))
    chosen = [e for p in hard[:people] for e in by_person[p]]
    first_police = next(e for e in chosen if department(e) == "police")
    return [*chosen, corrected(first_police)]


def department(event: dict) -> str:
    return event["source"].rsplit("/", 1)[-1]


def _dirt(events: list[dict]) -> int:
    return sum(1 for e in events if not (e["data"]["parsed"]["id_number"] or {}).get("normalized"))


def corrected(event: dict, content: dict | None = None) -> dict:
    """The same police row corrected in place later (gxsj moved): a new event, a new address;
    or, with `content`, that police event's fields instead (the row now about someone else)."""
    if content is None:
        raw = {**event["data"]["raw"], "现住址": "四川省雅安市雨城区东城街道金鸡社区人民路1号"}
        parsed = {**event["data"]["parsed"], "residence_address": raw["现住址"]}
    else:
        raw, parsed = content["data"]["raw"], content["data"]["parsed"]
    return make_event(department="police", event_type=event["type"], record_id=event["subject"],
                      raw=raw, parsed=parsed, origin={"table": "t_rk_bdjl",
                                                      "gxsj": "2026-11-27 00:00:00+00"})


def city_events(folder: Path) -> list[dict[str, Any]]:
    """Every valid record of a generated city's five exports as a canonical event (what the
    connectors would publish; the rest they dead-letter)."""
    events = []
    for department, name in EXPORTS.items():
        read_from, to_event, _, _ = source_for(department, folder / name)
        for record in read_from(0):
            try:
                event = to_event(record.columns, record.origin) if record.columns else None
            except MappingError:
                continue
            if event is not None and not validation_errors(event):
                events.append(event)
    return events


def reset(settings: HubSettings) -> None:
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(f"hub.{t}" for t in TABLES))
    conn.close()


def apply(store: HubStore, events: list[dict]) -> None:
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(events)])


def deliver(settings: HubSettings, events: list[dict], batch: int) -> None:
    """`events` in this order, `batch` at a time, by one processor's store."""
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        for start in range(0, len(events), batch):
            apply(store, events[start:start + batch])
    finally:
        store.close()


def snapshot(settings: HubSettings) -> dict[str, Any]:
    """The store with resident ids replaced by their records: comparable across runs."""
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn.cursor() as cur:
        cur.execute("SELECT resident_id, array_agg(source || ':' || record_id ORDER BY 1)"
                    " FROM hub.source_links GROUP BY 1")
        members = {resident: tuple(sorted(refs)) for resident, refs in cur.fetchall()}
        cur.execute("SELECT resident_id, attribute, value, valid_from, source, record_ref,"
                    " authority FROM hub.golden_values")
        values: dict[str, dict[str, Any]] = defaultdict(dict)
        for r, attribute, value, *rest in cur.fetchall():
            values[r][attribute] = [value, *rest]
        cur.execute("SELECT resident_id, record_count FROM hub.residents")
        golden = {members[r]: (json.dumps(values[r], sort_keys=True, ensure_ascii=False), n)
                  for r, n in cur.fetchall()}
        cur.execute("SELECT resident_id, attribute, value::text, valid_from, record_ref"
                    " FROM hub.resident_history")
        history = sorted((members[r], *rest) for r, *rest in cur.fetchall())
        cur.execute("SELECT resident_id, kind, attribute, details::text FROM hub.conflicts")
        conflicts = sorted((members[r], *rest) for r, *rest in cur.fetchall())
        cur.execute("SELECT resident_id, kind, since, evidence::text FROM hub.resident_findings")
        findings = sorted((members[r], *rest) for r, *rest in cur.fetchall())
    conn.close()
    return {"groups": sorted(members.values()), "golden": golden, "history": history,
            "conflicts": conflicts, "findings": findings}


def clean_snapshot(settings: HubSettings, events: list[dict]) -> dict[str, Any]:
    """The store a clean run of `events` leaves (one batch, each event once), as a snapshot."""
    reset(settings)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    apply(store, sorted(events, key=lambda e: e["id"]))
    store.close()
    return snapshot(settings)


class Crash(Exception):
    """Raised inside a batch's transaction: nothing of it may remain."""


def crash_inside(store: HubStore, chunk: list[dict], kill_connection: bool = False) -> None:
    """Land and merge the batch, then fail before the commit, as a killed worker would;
    `kill_connection`: PostgreSQL ends the session instead (a dropped connection)."""
    real = landing.merge_events

    def merge_then_crash(cur: Any, *args: Any) -> None:
        real(cur, *args)
        if kill_connection:
            cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        raise Crash

    landing.merge_events = merge_then_crash
    try:
        with pytest.raises(psycopg2.OperationalError if kill_connection else Crash):
            apply(store, chunk)
    finally:
        landing.merge_events = real
