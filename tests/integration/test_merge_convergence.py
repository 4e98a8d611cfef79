"""The merge is idempotent and order-free: any order, duplicates, batch sizes and a crashed
batch give the same store as a clean run (same grouping, same golden values)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.synthetic_city import generate_city
from deploy import postgres
from deploy.settings import HubSettings
from streams.landing import HubStore
from tests.integration.conftest import hub_settings, query
from tests.integration.store_runs import (
    apply,
    city_events,
    clean_snapshot,
    corpus,
    crash_inside,
    deliver,
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


NOISY_CITY = (700, 11, 2)  # persons, seed, noise level: twice today's mistakes, the wider kinds


@pytest.fixture(scope="module")
def noisy_city(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("noisy_city")
    persons, seed, noise = NOISY_CITY
    generate_city(persons, seed, folder, noise=noise)
    return city_events(folder)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), batch=st.integers(40, 400))
def test_a_noisy_city_in_any_order_gives_the_clean_runs_store(clean_run, noisy_city, seed,
                                                              batch) -> None:
    """A whole generated city, not only the corpus: shared numbers, relatives' numbers and near
    misses between residents, whose conflicts and review items show on both sides (a record
    arriving later changes what an earlier resident shows, found this way)."""
    settings, _ = clean_run
    expected = clean_snapshot(settings, noisy_city)
    reset(settings)
    deliver(settings, random.Random(seed).sample(noisy_city, len(noisy_city)), batch)
    assert snapshot(settings) == expected
