"""Run one department's full export through the publish path, with a progress bar and a tally."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from connectors.metrics import RECORDS_READ
from connectors.publisher import EventPublisher
from connectors.records import MappingError, SourceRecord

ToEvent = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class BackfillTally:
    """What a backfill did; `read == published + dead-lettered` when nothing was lost."""

    read: int
    published: int
    dead_lettered: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.read == self.published + sum(self.dead_lettered.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.dead_lettered.items()))
        return (f"read {self.read} = published {self.published} + dead-lettered "
                f"{sum(self.dead_lettered.values())}" + (f" ({reasons})" if reasons else "")
                + ("" if self.reconciles else "  MISMATCH"))


def run_backfill(
    records: Iterable[SourceRecord], to_event: ToEvent, publisher: EventPublisher,
    total_bytes: int | None = None, progress: bool = True,
) -> BackfillTally:
    """Publish every record; unmappable ones go to the dead-letter topic with their reason."""
    read = 0
    with tqdm(total=total_bytes, unit="B", unit_scale=True, disable=not progress,
              desc=f"{publisher.department} backfill") as bar:
        for record in records:
            read += 1
            RECORDS_READ.labels(publisher.department).inc()
            bar.update(len(record.raw_bytes))
            if record.columns is None:
                publisher.dead_letter(record, record.reason, record.error)
                continue
            try:
                event = to_event(record.columns, record.origin)
            except MappingError as error:
                publisher.dead_letter(record, "mapping", str(error))
                continue
            publisher.publish(event)
    publisher.flush()
    return BackfillTally(read, publisher.published, dict(publisher.dead_lettered))
