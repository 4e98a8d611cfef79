"""Run one department's full export through the publish path, resumable, with a tally.

Progress is the position after the last record whose event (or dead letter) the broker has
acknowledged: every `CHECKPOINT_EVERY` records the producer is flushed, then the position saved.
After a kill -9 the next run resumes there; records between the saved position and the crash
are sent again, which is harmless because their event ids are deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from connectors.checkpoints import CheckpointStore
from connectors.publisher import EventPublisher, InvalidEventError
from connectors.records import MappingError, SourceRecord

ToEvent = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
ReadFrom = Callable[[int], Iterator[SourceRecord]]
CHECKPOINT_EVERY = 2000


@dataclass(frozen=True)
class BackfillTally:
    """What a backfill did; `read == published + dead-lettered` when nothing was lost."""

    read: int
    published: int
    dead_lettered: dict[str, int] = field(default_factory=dict)
    resumed_at: int = 0
    stopped_at: int | None = None  # asked to stop there: the next run resumes at it

    @property
    def reconciles(self) -> bool:
        return self.read == self.published + sum(self.dead_lettered.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.dead_lettered.items()))
        resumed = f" (resumed at byte/row {self.resumed_at})" if self.resumed_at else ""
        stopped = (f"; stopped at byte/row {self.stopped_at}, run again to resume"
                   if self.stopped_at is not None else "")
        return (f"read {self.read} = published {self.published} + dead-lettered "
                f"{sum(self.dead_lettered.values())}" + (f" ({reasons})" if reasons else "")
                + resumed + ("" if self.reconciles else "  MISMATCH") + stopped)


def publish_record(record: SourceRecord, to_event: ToEvent, publisher: EventPublisher) -> None:
    """Queue one record's event, or its dead letter when it cannot be mapped."""
    publisher.records_read.inc()
    if record.columns is None:
        publisher.dead_letter(record, record.reason, record.error)
        return
    try:
        publisher.publish(to_event(record.columns, record.origin))
    except MappingError as error:
        publisher.dead_letter(record, "mapping", str(error))
    except InvalidEventError as error:
        publisher.dead_letter(record, "schema", str(error))


def run_backfill(
    read_from: ReadFrom, to_event: ToEvent, publisher: EventPublisher,
    checkpoints: CheckpointStore, key: str, total: int | None = None, unit: str = "B",
    progress: bool = True, stop: threading.Event | None = None,
) -> BackfillTally:
    """Publish every record from the saved position on; clear the progress once all is acked.

    The tally covers the whole file, interrupted runs included: their counts are saved with
    the position. Once `stop` is set, the progress so far is saved (after the broker
    acknowledged it) and the tally returned with `stopped_at`.
    """
    saved = checkpoints.load(key) or {"position": 0, "read": 0, "published": 0,
                                      "dead_lettered": {}}
    start = saved["position"]
    read = 0
    before = _Counts(publisher.published, dict(publisher.dead_lettered))
    with tqdm(total=total, initial=start, unit=unit, unit_scale=True, disable=not progress,
              desc=f"{publisher.department} backfill") as bar:
        for record in read_from(start):
            read += 1
            publish_record(record, to_event, publisher)
            bar.update(record.position - bar.n)
            stopped = stop is not None and stop.is_set()
            if read % CHECKPOINT_EVERY == 0 or stopped:
                publisher.flush()
                totals = _totals(saved, read, before, publisher)
                checkpoints.save(key, {"position": record.position, **totals})
                if stopped:
                    return BackfillTally(totals["read"], totals["published"],
                                         totals["dead_lettered"], start, record.position)
    publisher.flush()
    checkpoints.clear(key)
    totals = _totals(saved, read, before, publisher)
    return BackfillTally(totals["read"], totals["published"], totals["dead_lettered"], start)


@dataclass(frozen=True)
class _Counts:
    published: int
    dead_lettered: dict[str, int]


def _totals(saved: dict[str, Any], read: int, before: _Counts, publisher: EventPublisher
            ) -> dict[str, Any]:
    """Saved counts plus what this run added (a publisher may serve several files)."""
    dead = dict(saved["dead_lettered"])
    for reason, count in publisher.dead_lettered.items():
        added = count - before.dead_lettered.get(reason, 0)
        if added:
            dead[reason] = dead.get(reason, 0) + added
    return {"read": saved["read"] + read,
            "published": saved["published"] + publisher.published - before.published,
            "dead_lettered": dead}
