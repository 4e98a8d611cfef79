"""Live latency: changes published at a steady rate through the hub's publisher, and how long
each takes to become visible in the merged store.

A change is one of the city's own records of a living person given a new record id and
today's date (police: an address change; civil affairs: an allowance; social security: an
enrolment), as the demo's live departments make them. It is "visible" once its record is linked
to a resident in `hub.source_links`, which the processor writes in the same transaction as the
landing (so the change is then in the store and merged). A poller reads that table every
`POLL_SECONDS` for the oldest pending changes; a latency is measured up to the start of the
poll that first sees it, so it can be over by up to one poll interval. While the hub is behind,
a change merged before the `POLL_AT_MOST` oldest pending ones is seen only when its turn comes
among them, so the figures then err on the slow side.

CPU is read by part over the phase, from the first send until every change is seen (or the
drain timeout): this process (three departments' publishers and the poller), the broker, the
workers and PostgreSQL (harness.CpuMeter).
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import psycopg2
from harness import CpuMeter

from connectors.backfill import ToEvent
from connectors.file_backfill import source_for
from connectors.publisher import EventPublisher
from deploy.postgres import dsn
from deploy.settings import HubSettings

POLL_SECONDS = 0.05  # a fine enough clock for a 200 ms target
POLL_AT_MOST = 500  # pending changes looked up per poll, oldest first (light on PostgreSQL)

# department: (record id column, date column, the new date's format, which records to vary)
CHANGES: dict[str, tuple[str, str, str, Callable[[dict[str, Any]], bool]]] = {
    "police": ("变动流水号", "变动日期", "%Y-%m-%d", lambda c: c["变动类型"] != "死亡注销"),
    "civil_affairs": ("业务流水号", "办理日期", "%Y-%m-%d",
                      lambda c: c["业务类型"] in ("高龄津贴发放", "残疾人两项补贴")),
    "social_security": ("serial", "occurred", "%Y-%m-%dT%H:%M:%S+08:00",
                        lambda c: c["event"] == "insurance.enrolled"),
}
EXPORT = {"police": "police_population.csv", "civil_affairs": "civil_affairs.csv",
          "social_security": "social_security.jsonl"}
PREFIX = {"police": "GA", "civil_affairs": "MZ", "social_security": "RS"}


@dataclass(frozen=True)
class LiveResult:
    """Latencies (s) of the changes seen in the store before the drain timeout."""

    sent: int
    seconds: float
    latencies: list[float]
    drain_timeout: float
    cpu: tuple[float, ...]  # seconds by part (harness.CpuMeter), sending through draining

    @property
    def unseen(self) -> int:
        return self.sent - len(self.latencies)

    def percentile(self, p: float) -> str:
        """Over every change sent: one never seen counts as slower than any seen, so a
        percentile that falls among those is only known to exceed the drain timeout."""
        rank = min(self.sent - 1, int(p / 100 * self.sent))
        if rank >= len(self.latencies):
            return f"> {self.drain_timeout:.0f}"
        return f"{sorted(self.latencies)[rank]:.2f}"

    def cpu_ms_per_change(self) -> str:
        """Each part's CPU per change sent, as `publisher+poller, broker, workers, PostgreSQL`."""
        return ", ".join(f"{1000 * seconds / self.sent:.2f}" for seconds in self.cpu)


def _living(city: Path) -> set[str]:
    """Refs (source:record_id) of records of people alive at the export."""
    with open(city / "persons.csv", encoding="utf-8-sig", newline="") as file:
        alive = {row["person"] for row in csv.DictReader(file) if row["deceased"] == "0"}
    with open(city / "truth.csv", encoding="utf-8-sig", newline="") as file:
        return {f"{row['source']}:{row['record_id']}" for row in csv.DictReader(file)
                if row["person"] in alive}


def _templates(city: Path) -> Iterator[tuple[str, ToEvent, dict[str, Any], dict[str, Any]]]:
    """(department, its mapping, columns, origin) of the records changes are made from, the
    departments taking turns."""
    living = _living(city)
    per_department = []
    for department, (id_column, _, _, wanted) in CHANGES.items():
        read_from, to_event, *_ = source_for(department, city / EXPORT[department])
        per_department.append([
            (department, to_event, record.columns, record.origin) for record in read_from(0)
            if record.columns is not None and wanted(record.columns)
            and f"{department}:{record.columns[id_column]}" in living])
    return cycle(t for group in zip(*per_department, strict=False) for t in group)


def live_changes(city: Path, run: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(department, ref, canonical event) of changes without end, record ids unique in `run`."""
    for sent, (department, to_event, columns, origin) in enumerate(_templates(city)):
        id_column, date_column, date_format, _ = CHANGES[department]
        record_id = f"{PREFIX[department]}LIVE{run}{sent:08d}"
        changed = {**columns, id_column: record_id, date_column: time.strftime(date_format)}
        if department == "police":
            changed["变动类型"] = "住址变更"
        yield department, f"{department}:{record_id}", to_event(changed, origin)


class _Poller:
    """Watches `hub.source_links` for pending refs and notes when each is first seen."""

    def __init__(self, settings: HubSettings) -> None:
        self.pending: dict[str, float] = {}  # ref -> monotonic send time, in send order
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conn = psycopg2.connect(dsn(settings))
        self._conn.autocommit = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sent(self, ref: str, at: float) -> None:
        with self._lock:
            self.pending[ref] = at

    def _run(self) -> None:
        with self._conn.cursor() as cur:
            while not self._stop.wait(POLL_SECONDS):
                with self._lock:
                    oldest = list(self.pending)[:POLL_AT_MOST]
                if not oldest:
                    continue
                started = time.monotonic()
                cur.execute("SELECT ref FROM hub.source_links WHERE ref = ANY(%s)", (oldest,))
                with self._lock:
                    for (ref,) in cur.fetchall():
                        self.latencies.append(started - self.pending.pop(ref))

    def drain(self, timeout: float) -> None:
        """Wait until every sent change is seen, or `timeout` s passed; then stop."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        self._stop.set()
        self._thread.join()
        self._conn.close()


def measure_live(settings: HubSettings, city: Path, rate: float, seconds: float,
                 workers: list[int], drain_timeout: float = 600) -> LiveResult:
    """Publish `rate` changes/s for `seconds` through EventPublisher; their latencies, and the
    CPU of each part (`workers`: the processes' pids)."""
    changes = live_changes(city, time.strftime("%H%M%S"))
    next(changes)  # the first reads the exports: before the clock
    publishers = {d: EventPublisher(settings, d) for d in CHANGES}
    poller = _Poller(settings)
    meter = CpuMeter(settings, workers)
    start = time.monotonic()
    sent = 0
    try:
        while (due := start + sent / rate) < start + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            department, ref, event = next(changes)
            poller.sent(ref, time.monotonic())
            publishers[department].publish(event)
            sent += 1
        for publisher in publishers.values():
            publisher.flush()
        elapsed = time.monotonic() - start
        poller.drain(drain_timeout)
    finally:
        for publisher in publishers.values():
            publisher.close()
    return LiveResult(sent, elapsed, poller.latencies, drain_timeout, meter.read())
