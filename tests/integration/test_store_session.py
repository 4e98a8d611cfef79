"""What every session of the processor's store sets up before its first statement."""

from __future__ import annotations

import gc
from typing import Any

import psycopg2
import pytest

from deploy import postgres
from deploy.settings import HubSettings
from streams.landing import ConsumedEvent, HubStore
from streams.prepared import PreparingConnection
from tests.integration.conftest import hub_settings
from tests.integration.store_runs import corpus


@pytest.mark.parametrize(("setting", "server_default", "in_the_store"), [
    # the planner priced the merge's recursive walk above jit_above_cost, and compiling it cost
    # more than running it many times over (bench/README.md, "PostgreSQL's JIT")
    ("jit", "on", "off"),
    # at the spinning-disk default a batch's members were found by reading all of source_links
    # (bench/README.md, "2026-12-06 (night)")
    ("random_page_cost", "4", "1.1"),
])
def test_the_merge_plans_for_a_store_held_in_memory(stack: HubSettings, setting: str,
                                                    server_default: str, in_the_store: str
                                                    ) -> None:
    dsn = postgres.dsn(hub_settings(stack), "sanwang_processor")

    def shown(cur: Any) -> str:
        cur.execute(f"SHOW {setting}")
        return cur.fetchone()[0]

    plain = psycopg2.connect(dsn)
    try:
        with plain.cursor() as cur:
            assert shown(cur) == server_default  # what the store's sessions change
    finally:
        plain.close()
    store = HubStore(dsn)
    try:
        assert store._transaction(shown) == in_the_store
    finally:
        store.close()


def test_merging_leaves_no_garbage_for_the_collector(stack: HubSettings) -> None:
    """The processor collects garbage rarely (streams/heap.py): that costs no memory only as
    long as a merge leaves no reference cycles behind, which this checks on the hard sample
    persons, corrections and all."""
    events = [ConsumedEvent(e, "t", 0, i) for i, e in enumerate(corpus())]
    store = HubStore(postgres.dsn(hub_settings(stack), "sanwang_processor"))
    try:
        store.apply(events[:1])  # what lives as long as the store: connection, parameters
        gc.collect()
        gc.disable()
        try:
            store.apply(events[1:])
            assert gc.collect() == 0
        finally:
            gc.enable()
    finally:
        store.close()


def test_the_store_plans_its_statements_once(stack: HubSettings) -> None:
    """The merge's statements run prepared (streams/prepared.py): after a few batches
    PostgreSQL runs the candidate lookup on its one generic plan, planned no more."""
    events = [ConsumedEvent(e, "t", 0, i) for i, e in enumerate(corpus())]
    store = HubStore(postgres.dsn(hub_settings(stack), "sanwang_processor"))
    try:
        for i in range(0, len(events), 5):
            store.apply(events[i:i + 5])

        def plans(cur: Any) -> dict[str, tuple[int, int]]:
            cur.execute("SELECT statement, generic_plans, custom_plans"
                        " FROM pg_prepared_statements")
            return {statement: (generic, custom) for statement, generic, custom in cur}

        prepared = store._transaction(plans)
        lookup = [plan for statement, plan in prepared.items()
                  if "count(*) OVER (PARTITION BY key)" in statement]
        assert len(lookup) == 1
        generic, custom = lookup[0]
        assert generic > 0 and custom <= 5  # PostgreSQL's plan_cache_mode auto
    finally:
        store.close()


def test_a_statement_is_prepared_when_it_runs_again_unless_postgresql_cannot(
        stack: HubSettings) -> None:
    conn = psycopg2.connect(postgres.dsn(hub_settings(stack), "sanwang_processor"),
                            connection_factory=PreparingConnection)

    def prepared(cur: Any) -> list[str]:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [s for (s,) in cur.fetchall()]

    try:
        with conn.cursor() as cur:
            for run in range(3):
                cur.execute("SELECT %s IS NULL", (None,))  # no type to infer for its parameter
                assert cur.fetchall() == [(True,)]
                cur.execute("SELECT %(n)s::int + %(n)s::int", {"n": run})  # the transaction goes on
                assert cur.fetchall() == [(2 * run,)]
                assert prepared(cur) == ([] if run == 0 else
                                         ["PREPARE merge_2 AS SELECT $1::int + $1::int"])
    finally:
        conn.rollback()
        conn.close()
