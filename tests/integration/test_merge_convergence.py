"""The merge is idempotent and order-free: any order, duplicates, batch sizes and a crashed
batch give the same store as a clean run (same grouping, same golden values)."""

from __future__ import annotations

import copy
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg2.extras import execute_values

from deploy import postgres
from deploy.id_keys import process_keyring
from deploy.migrations import migration_files
from deploy.settings import HubSettings
from streams import id_protection as ids
from streams.features import NO_UPDATE_TIME, RecordFeatures, features_of
from streams.landing import HubStore
from streams.matching import keys_of, trusted_number
from tests.integration.conftest import hub_settings, query
from tests.integration.store_runs import (
    apply,
    clean_snapshot,
    corpus,
    crash_inside,
    reset,
    snapshot,
)

CORPUS = corpus()


@pytest.fixture(scope="module")
def clean_run(stack: HubSettings) -> tuple[HubSettings, dict[str, Any]]:
    """One database for the module, and the store a clean run of the corpus leaves."""
    settings = hub_settings(stack)
    return settings, clean_snapshot(settings, CORPUS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(CORPUS))),
       duplicates=st.lists(st.integers(0, len(CORPUS) - 1), max_size=12),
       batch=st.integers(1, 25), crash_at=st.integers(0, 6))
def test_any_delivery_gives_the_clean_runs_store(clean_run, order, duplicates, batch,
                                                 crash_at) -> None:
    settings, expected = clean_run
    reset(settings)
    delivery = [copy.deepcopy(CORPUS[i]) for i in [*order, *duplicates]]
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    try:
        for n, start in enumerate(range(0, len(delivery), batch)):
            chunk = delivery[start:start + batch]
            if n == crash_at:
                crash_inside(store, chunk)
            apply(store, chunk)  # redelivered after the crash, or delivered once
    finally:
        store.close()
    assert snapshot(settings) == expected


def test_the_clean_run_merged_across_departments(clean_run) -> None:
    _, expected = clean_run
    sources = [{ref.split(":")[0] for ref in group} for group in expected["groups"]]
    assert any(len(s) == 3 for s in sources), "some resident links all three departments"
    assert len(expected["groups"]) == 14


def test_the_clean_run_stores_the_correction_over_the_exported_row(clean_run) -> None:
    """The corpus ends with a police row corrected later (the CDC stream's gxsj) that the
    export gave first without one: the correction is the version stored."""
    settings, _ = clean_run
    clean_snapshot(settings, CORPUS)
    correction = CORPUS[-1]
    assert query(settings, "SELECT event_id FROM hub.source_records WHERE ref = %s",
                 (f"police:{correction['subject']}",)) == [(correction["id"],)]


def old_keys(record: RecordFeatures) -> set[str]:
    """The keys the merge stored for a record before migration 009: every number's one-deletion
    variants, and surname with birth month for whole and partial dates alike."""
    keys = {k for k in keys_of(record).stored if not k.startswith(("bd:", "bp:"))}
    number = record.id_number or record.id_digits
    if number:
        keys |= {f"id~{number[:i]}{number[i + 1:]}" for i in range(len(number))}
    if record.name and record.birth and len(record.birth) >= 7:
        keys.add(f"bm:{record.birth[:7]}|{record.name[0]}")
    return keys


def test_migration_009_turns_the_old_keys_into_the_ones_the_merge_stores_now(clean_run) -> None:
    settings, _ = clean_run
    clean_snapshot(settings, CORPUS)
    keyring = process_keyring()
    by_version = sorted(map(features_of, CORPUS), key=lambda r: r.version)
    records = {r.ref: r for r in by_version}  # each record's latest version, as stored
    assert any(trusted_number(r) for r in records.values())
    assert any(r.birth and len(r.birth) == 7 for r in records.values())
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT key, ref FROM hub.record_keys")
            stored_now = sorted(cur.fetchall())
            cur.execute("TRUNCATE hub.record_keys")
            execute_values(cur, "INSERT INTO hub.record_keys (key, ref) VALUES %s",
                           [(ids.protect_key(keyring, k), ref)
                            for ref, r in records.items() for k in sorted(old_keys(r))])
        with conn, conn.cursor() as cur:
            cur.execute(dict(migration_files())["009_one_sided_blocking_keys"])
            cur.execute("SELECT key, ref FROM hub.record_keys")
            assert sorted(cur.fetchall()) == stored_now
    finally:
        conn.close()


def test_migration_011_moves_versions_without_an_update_time_before_any(clean_run) -> None:
    settings, _ = clean_run
    clean_snapshot(settings, CORPUS)
    old_format = len(NO_UPDATE_TIME) + 1  # what the version kept after its leading "|"
    read = "SELECT ref, version, features->>'version' FROM hub.source_records ORDER BY ref"
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(read)
            stored_now = cur.fetchall()
            assert all(v == f for _, v, f in stored_now)
            assert {v.startswith(f"{NO_UPDATE_TIME}|") for _, v, _ in stored_now} == {True, False}
            cur.execute("UPDATE hub.source_records SET version = substr(version, %(n)s),"
                        " features = jsonb_set(features, '{version}',"
                        "                      to_jsonb(substr(version, %(n)s)))"
                        " WHERE version LIKE %(old)s",
                        {"n": old_format, "old": f"{NO_UPDATE_TIME}|%"})
            cur.execute("SELECT count(*) FROM hub.source_records WHERE version LIKE '|%%'")
            assert cur.fetchone()[0] > 0
        with conn, conn.cursor() as cur:
            cur.execute(dict(migration_files())["011_versions_without_update_time"])
            cur.execute(read)
            assert cur.fetchall() == stored_now
    finally:
        conn.close()
