"""Two processor workers in one consumer group give the same store as one worker."""

from __future__ import annotations

from connectors.file_backfill import backfill_file
from deploy.settings import HubSettings
from streams.lag import wait_for_processor
from tests.integration.conftest import hub_settings
from tests.integration.test_merge_convergence import _snapshot
from tests.integration.workers import spawn_worker, stop_worker
from tests.samples import SAMPLE

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
    return _snapshot(settings)


def test_two_workers_merge_like_one(stack: HubSettings) -> None:
    one = _run(hub_settings(stack), workers=1)
    two = _run(hub_settings(stack), workers=2)
    assert len(one["groups"]) == 401
    assert two == one
