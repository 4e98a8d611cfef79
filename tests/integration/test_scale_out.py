"""Workers merge side by side: two in one consumer group, or two store connections taking
interleaved batches at once, give the same store as one."""

from __future__ import annotations

import random
import threading

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.settings import HubSettings
from streams.lag import wait_for_processor
from streams.landing import HubStore
from tests.integration.conftest import hub_settings
from tests.integration.store_runs import apply, clean_snapshot, reset, snapshot
from tests.integration.workers import spawn_worker, stop_worker
from tests.samples import SAMPLE, sample_events

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def _run(settings: HubSettings, workers: int) -> dict:
    for department, name in EXPORTS:
        backfill_file(settings, department, SAMPLE / name, progress=False)
    processes = [spawn_worker(settings, f"worker-{n}") for n in range(workers)]
    try:
        wait_for_processor(settings, timeout=300)
        assert all(p.poll() is None for p in processes), "a worker died"
    finally:
        for process in processes:
            stop_worker(process)
    return snapshot(settings)


def test_two_workers_merge_like_one(stack: HubSettings) -> None:
    one = _run(hub_settings(stack), workers=1)
    two = _run(hub_settings(stack), workers=2)
    assert len(one["groups"]) == 401
    assert two == one


def test_concurrent_merges_of_one_persons_records_give_the_clean_store(
        stack: HubSettings) -> None:
    """Two connections apply the sample's batches at the same moments, so that records of one
    person often meet in two open transactions (no global lock serializes them: blocking-key
    and resident locks must), over several shuffles."""
    settings = hub_settings(stack)
    events = list(sample_events())
    expected = clean_snapshot(settings, events)
    for seed in range(3):
        reset(settings)
        shuffled = random.Random(seed).sample(events, len(events))
        batches = [shuffled[i:i + 40] for i in range(0, len(shuffled), 40)]
        assert _side_by_side(settings, batches[0::2], batches[1::2]) == []
        assert snapshot(settings) == expected, f"shuffle {seed}"


def _side_by_side(settings: HubSettings, *shares: list[list[dict]]) -> list[BaseException]:
    """Each share applied by its own HubStore on its own thread, batch n of every share
    started together; the errors raised."""
    step = threading.Barrier(len(shares))
    failures: list[BaseException] = []

    def worker(mine: list[list[dict]]) -> None:
        store = HubStore(postgres.dsn(settings, "sanwang_processor"))
        try:
            for n in range(max(map(len, shares))):
                step.wait(timeout=120)
                if n < len(mine):
                    apply(store, mine[n])
        except BaseException as error:  # reported by the caller
            failures.append(error)
            step.abort()
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
