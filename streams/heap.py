"""The garbage collector set for a process that allocates a great deal and frees all of it.

A batch's merge builds hundreds of thousands of objects (features, observations, rows) that all
die with the batch. At CPython's default thresholds (700, 10, 10) enough of them outlive a young
collection to set off full ones, and each full one walks every object the process holds: over a
quarter of a million after the imports alone (faust, pypinyin's dictionaries). That was a
quarter of the merge's Python time (bench/README.md, "2026-12-06 (night)"). The merge leaves no
reference cycles behind (test_merging_leaves_no_garbage_for_the_collector), so collecting
rarely holds no extra memory.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # net allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Freeze what start-up built (it lives as long as the process) and collect rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 50, 100)
