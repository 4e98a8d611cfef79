"""What every session of the processor's store sets up before its first statement."""

from __future__ import annotations

import gc
from typing import Any

import psycopg2

from deploy import postgres
from deploy.settings import HubSettings
from streams.landing import ConsumedEvent, HubStore
from tests.integration.conftest import hub_settings
from tests.integration.store_runs import corpus


def _jit(cur: Any) -> str:
    cur.execute("SHOW jit")
    return cur.fetchone()[0]


def test_the_merge_is_planned_without_jit(stack: HubSettings) -> None:
    """The planner prices the merge's recursive walk above jit_above_cost; compiling it cost
    more than running it many times over (bench/README.md, "PostgreSQL's JIT")."""
    dsn = postgres.dsn(hub_settings(stack), "sanwang_processor")
    plain = psycopg2.connect(dsn)
    try:
        with plain.cursor() as cur:
            assert _jit(cur) == "on"  # the server's default, which the store's sessions turn off
    finally:
        plain.close()
    store = HubStore(dsn)
    try:
        assert store._transaction(_jit) == "off"
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
