"""Delivery as Kafka may do it to the processor's store, as a hypothesis state machine against
the real PostgreSQL: batches delivered, redelivered and reordered, batches crashed or cut off
mid-apply, the worker restarted; once every event has been delivered the store is the clean
run's. Examples: 200 in CI, more with SANWANG_STATE_MACHINE_EXAMPLES (see the README)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from deploy import postgres
from deploy.settings import HubSettings
from streams.landing import HubStore
from tests.integration.conftest import hub_settings, query
from tests.integration.store_runs import (
    apply,
    clean_snapshot,
    corpus,
    crash_inside,
    reset,
    snapshot,
)

EXAMPLES = int(os.environ.get("SANWANG_STATE_MACHINE_EXAMPLES", "200"))
EVENTS = corpus(people=5)  # small enough for a cheap example, still all three departments
BATCH = st.lists(st.sampled_from(range(len(EVENTS))), min_size=1, max_size=6)


class Delivery(RuleBasedStateMachine):
    """The store under at-least-once delivery; `delivered` holds what was committed."""

    hub: HubSettings
    expected: dict[str, Any]
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        reset(self.hub)
        self.store = HubStore(postgres.dsn(self.hub, "sanwang_processor"))
        self.delivered: set[int] = set()
        self.batches: list[list[int]] = []

    def _deliver(self, batch: list[int]) -> None:
        apply(self.store, [EVENTS[i] for i in batch])
        self.delivered.update(batch)
        self.batches.append(batch)
        Delivery.steps += 1

    @rule(batch=BATCH)
    def deliver(self, batch: list[int]) -> None:
        """A batch of events in the order drawn (duplicates inside it too)."""
        self._deliver(batch)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """A committed batch again, as after a rebalance before the offset commit."""
        self._deliver(data.draw(st.sampled_from(self.batches)))

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def reorder(self, data: st.DataObject) -> None:
        """A committed batch again, its events in another order."""
        self._deliver(data.draw(st.permutations(data.draw(st.sampled_from(self.batches)))))

    @rule(batch=BATCH, kill_connection=st.booleans())
    def crash(self, batch: list[int], kill_connection: bool) -> None:
        """A batch landed and merged, then rolled back or cut off before its commit."""
        crash_inside(self.store, [EVENTS[i] for i in batch], kill_connection)
        Delivery.steps += 1

    @rule()
    def restart(self) -> None:
        """A new worker: a new store and connection."""
        self.store.close()
        self.store = HubStore(postgres.dsn(self.hub, "sanwang_processor"))

    @invariant()
    def exactly_the_committed_events_landed(self) -> None:
        landed = {event_id for (event_id,) in query(self.hub, "SELECT event_id FROM hub.events")}
        assert landed == {EVENTS[i]["id"] for i in self.delivered}

    def teardown(self) -> None:
        """Deliver what was never delivered; the store must then be the clean run's."""
        try:
            missing = sorted(set(range(len(EVENTS))) - self.delivered)
            if missing:
                self._deliver(missing)
            assert snapshot(self.hub) == self.expected
        finally:
            self.store.close()


@pytest.fixture(scope="module")
def clean(stack: HubSettings) -> tuple[HubSettings, dict[str, Any]]:
    hub = hub_settings(stack)
    return hub, clean_snapshot(hub, EVENTS)


def test_any_delivery_history_converges_to_the_clean_runs_store(clean) -> None:
    Delivery.hub, Delivery.expected = clean
    Delivery.steps = 0
    run_state_machine_as_test(Delivery, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=10, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    print(f"\nstate machine: {EXAMPLES} examples, {Delivery.steps} batches applied or crashed, "
          f"{len(EVENTS)} events, every history equal to the clean run")


def test_the_corpus_is_a_cross_department_one(clean) -> None:
    _, expected = clean
    sources = [{ref.split(":")[0] for ref in group} for group in expected["groups"]]
    assert any(len(s) == 3 for s in sources)
