"""What every session of the processor's store sets up before its first statement."""

from __future__ import annotations

import gc
from typing import Any

import psycopg2
import pytest

from deploy import postgres
from deploy.settings import HubSettings
from streams.landing import ConsumedEvent, HubStore
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
