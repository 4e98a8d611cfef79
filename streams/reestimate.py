"""Re-estimate the matching parameters as the store grows, from the records themselves.

The shipped parameters were estimated on the contract's small sample; a city's own records say
more about its noise. A processor re-estimates (streams/estimate.py, from the store's sample
and the stewards' latest decisions as labelled pairs) when the store holds at least
`min_records` records and either has doubled since the last estimate while it holds no more
than U_RECORDS records, or has changed since and no event landed for one timer interval.

So a backfill is re-estimated once or twice on the way, while more records still mean a larger
sample. Past that, a larger store only changes which records the sample holds, not how many, and
each estimate queues the whole store to be linked again: doubling all the way crowded out the
merge at 200,000 persons (bench/README.md).

An estimate made while a backlog waits to be merged queues nothing: linking every record again
is owed to the first estimate made without a backlog, which the debt alone sets off and which a
processor makes as soon as the backlog is merged (its relink timer looks every second for the
group's lag at 0; its estimate timer pays it too, once less than a batch waits). A growth
estimate inside a backfill once queued the store, and the estimate after it all of it again
(bench/README.md, "2026-12-07 (late evening)").

A store that has gone quiet always ends estimated from all of its records. Those last parameters
then depend only on the records, and every record is linked again with them
(streams/relink.py), so the store ends as a clean run with them would leave it, whatever order
the records came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.locks import REESTIMATE_LOCK
from streams.estimate import estimate_from, labelled_pairs
from streams.estimation_sample import U_RECORDS
from streams.parameter_store import StoredParameters, load_parameters, switch_parameters
from streams.record_store import latest_steward_decisions
from streams.sample_store import stored_sample

GROWTH = 2


@dataclass(frozen=True)
class StoreSize:
    records: int
    events: int


def due(size: StoreSize, stored: StoredParameters, quiet: bool, min_records: int,
        backlog: bool = False) -> bool:
    """Whether to re-estimate now (pure): the module's rule. `quiet`: no event landed since
    the previous look; `backlog`: more events wait to be merged than one batch."""
    if size.records < max(min_records, 2):
        return False
    if stored.records is None or stored.events_seen is None:
        return True
    growing = GROWTH * stored.records <= size.records <= U_RECORDS
    return (growing or (quiet and size.events != stored.events_seen)
            or (stored.relink_owed and not backlog))


def store_size(cur: Any) -> StoreSize:
    cur.execute("SELECT (SELECT count(*) FROM hub.source_records),"
                " (SELECT count(*) FROM hub.events)")
    return StoreSize(*cur.fetchone())


@dataclass(frozen=True)
class Reestimated:
    records: int
    sampled: int  # the records the estimate read (streams/estimation_sample.py)
    queued: int  # records queued to be linked again (0: the parameters did not change)
    owed: bool  # a backlog waited: linking every record again is owed to a later estimate
    confirmed: int  # the stewards' confirmed and split pairs among the records, used
    split: int


def reestimate(cur: Any, size: StoreSize, backlog: bool = False) -> Reestimated:
    """Estimate from the store's sample and the stewards' decisions, and switch to the new
    parameters (streams/parameter_store.py)."""
    labelled = latest_steward_decisions(cur)
    sample = stored_sample(cur, {ref for pair in labelled for ref in (pair.a, pair.b)})
    parameters = estimate_from(sample, labelled=labelled)
    queued = switch_parameters(cur, parameters, size.records, size.events, backlog)
    confirmed, split = labelled_pairs(sample.labelled.values(), labelled)
    return Reestimated(size.records, len(sample.records()), queued,
                       load_parameters(cur).relink_owed, len(confirmed), len(split))


def reestimate_if_due(cur: Any, min_records: int, events_before: int | None, backlog: bool
                      ) -> tuple[StoreSize, Reestimated | None]:
    """The store's size, and the re-estimate when `due` (one worker at a time: a worker that
    finds another at it skips). `events_before`: the events counted at the previous look."""
    size = store_size(cur)
    cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (REESTIMATE_LOCK,))
    if not cur.fetchone()[0]:
        return size, None
    if not due(size, load_parameters(cur), size.events == events_before, min_records, backlog):
        return size, None
    return size, reestimate(cur, size, backlog)
