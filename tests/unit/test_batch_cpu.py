"""A batch's CPU as the processor reports it (sanwang_processor_batch_cpu_seconds): its own
thread's work, not the time it waited on PostgreSQL or on other workers' locks."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from streams.app import _apply_timed
from streams.merge_summary import MergeSummary

WORK, WAIT = 0.05, 0.3


class _WorkThenWait:
    """A store whose batch computes for WORK s of its thread's CPU, then waits WAIT s."""

    def apply(self, batch: list[Any]) -> tuple[Counter, MergeSummary]:
        done = time.thread_time() + WORK
        while time.thread_time() < done:
            pass
        time.sleep(WAIT)
        return Counter({"police": len(batch)}), MergeSummary(changed_records=len(batch))


def test_a_batch_counts_its_own_cpu_and_not_what_it_waited() -> None:
    started = time.monotonic()
    stored, merged, cpu = _apply_timed(_WorkThenWait(), [object(), object()])
    assert time.monotonic() - started >= WORK + WAIT
    assert WORK <= cpu < WORK + WAIT / 2
    assert stored == Counter({"police": 2}) and merged.changed_records == 2
