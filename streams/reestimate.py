"""Re-estimate the matching parameters as the store grows, from the records themselves.

The shipped parameters were estimated on the contract's small sample; a city's own records say
more about its noise. A processor re-estimates (streams/estimate.py, with the stewards' latest
decisions as labelled pairs) when the store holds at least `min_records` records and either
has doubled since the last estimate, or has changed since and no event landed for one timer
interval: so a backfill is re-estimated a few times on the way (the work of linking again stays
within twice the records), and a store that has gone quiet always ends estimated from all of
its records. Those last parameters then depend only on the records, and every record is linked
again with them (streams/relink.py), so the store ends as a clean run with them would leave it,
whatever order the records came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.locks import REESTIMATE_LOCK
from streams.estimate import estimate_parameters, labelled_pairs
from streams.parameter_store import StoredParameters, load_parameters, switch_parameters
from streams.record_store import every_record, latest_steward_decisions

GROWTH = 2


@dataclass(frozen=True)
class StoreSize:
    records: int
    events: int


def due(size: StoreSize, stored: StoredParameters, quiet: bool, min_records: int) -> bool:
    """Whether to re-estimate now (pure): the module's rule. `quiet`: no event landed since
    the previous look."""
    if size.records < max(min_records, 2):
        return False
    if stored.records is None or stored.events_seen is None:
        return True
    return size.records >= GROWTH * stored.records or (quiet and size.events != stored.events_seen)


def store_size(cur: Any) -> StoreSize:
    cur.execute("SELECT (SELECT count(*) FROM hub.source_records),"
                " (SELECT count(*) FROM hub.events)")
    return StoreSize(*cur.fetchone())


@dataclass(frozen=True)
class Reestimated:
    records: int
    queued: int  # records queued to be linked again (0: the parameters did not change)
    confirmed: int  # the stewards' confirmed and split pairs among the records, used
    split: int


def reestimate(cur: Any, size: StoreSize) -> Reestimated:
    """Estimate from every stored record and the stewards' decisions, and switch to the new
    parameters (streams/parameter_store.py)."""
    records = every_record(cur)
    labelled = latest_steward_decisions(cur)
    parameters = estimate_parameters(records, labelled=labelled)
    queued = switch_parameters(cur, parameters, len(records), size.events)
    confirmed, split = labelled_pairs(records, labelled)
    return Reestimated(len(records), queued, len(confirmed), len(split))


def reestimate_if_due(cur: Any, min_records: int, events_before: int | None
                      ) -> tuple[StoreSize, Reestimated | None]:
    """The store's size, and the re-estimate when `due` (one worker at a time: a worker that
    finds another at it skips). `events_before`: the events counted at the previous look."""
    size = store_size(cur)
    cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (REESTIMATE_LOCK,))
    if not cur.fetchone()[0]:
        return size, None
    if not due(size, load_parameters(cur), size.events == events_before, min_records):
        return size, None
    return size, reestimate(cur, size)
