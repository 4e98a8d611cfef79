"""Backfill throughput: the hub's publish path against a bare kafka-python producer.

Run by hand, never by CI:

    .venv/bin/python bench/backfill_throughput.py [--rows N] [--runs R] [--hub-only]

Starts a private stack (Kafka, PostgreSQL, Prometheus: state in a temporary directory, free
ports), writes a synthetic copy of each declared department's export from the five-department
sample city (tests/fixtures/sample5) with N records (the sample's rows cycled, each given a
unique record id: no value that is not already in the sample), then per department times, R
times alternating, hub then bare:

- hub: `backfill_file(..., progress=False)`, i.e. read, map, validate, publish, checkpoint;
- bare: one KafkaProducer with the publisher's settings sending each record's raw bytes (the
  file's line without its line end) as one message, keyed like the hub (32 bytes per record).

Each run goes to topics of its own (a fresh prefix) with the stack's partition count; the clock
runs from before the producer is created until everything is acknowledged and it is closed.
Beside the wall-clock rate each run reports the CPU this process spent per record (its main
thread and kafka-python's sender thread: `time.process_time`), the broker's, and the whole
machine's meanwhile (/proc/stat: this process, the broker, and anyone else's work).
`--hub-only` leaves the bare runs out, to run the hub's side under a profiler
(bench/backfill_stages.py splits such a profile by stage).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kafka
from harness import CHECKOUT, raw_records
from kafka import KafkaProducer

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.errors import BrokerError
from deploy.kafka_acls import ensure_acls
from deploy.kafka_auth import ADMIN, client_config
from deploy.kafka_check import check_kafka
from deploy.private_stack import private_settings
from deploy.processes import read_pid
from deploy.settings import HubSettings
from deploy.stack import down, up
from deploy.topics import ensure_topics
from schemas.declarations import Department
from schemas.departments import all_departments
from schemas.topics import all_topics, dead_letter_topic, raw_topic

SAMPLE = CHECKOUT / "tests" / "fixtures" / "sample5"
EXPORTS = {"police": "police_population.csv", "civil_affairs": "civil_affairs.csv",
           "social_security": "social_security.jsonl", "party": "party_members.csv",
           "health": "health_certificates.csv"}
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    """One timed run: records/s; this process's, the broker's and the machine's CPU per record
    (µs)."""

    rate: float
    cpu_us: float
    broker_us: float
    machine_us: float


def synthesize(department: Department, sample: Path, target: Path, rows: int) -> None:
    """`rows` records cycled from `sample`, same encoding and bytes but a unique record id each
    (the sample's ids' letters, then a counter)."""
    column = department.spec("record_id").column
    lines = sample.read_bytes().splitlines(keepends=True)
    is_csv = sample.suffix == ".csv"
    if is_csv and department.header[0] != column:
        raise SystemExit(f"{department.id}: the record id is not the export's first column")
    header, body = (lines[0], lines[1:]) if is_csv else (b"", lines)  # the BOM stays on line 1
    body = [line for line in body if line.strip()]
    key = f'"{column}": "'.encode()
    serial = re.compile(re.escape(key) + rb'[^"]*"')
    first = body[0].split(b",", 1)[0] if is_csv else serial.search(body[0])[0][len(key):-1]
    prefix = re.match(rb"[A-Za-z]*", first)[0]
    with open(target, "wb") as out:
        out.write(header)
        for n in range(rows):
            line, record_id = body[n % len(body)], prefix + b"%015d" % n
            if is_csv:
                line = record_id + line[line.index(b","):]
            else:
                line, found = serial.subn(key + record_id + b'"', line, count=1)
                if found != 1:
                    raise ValueError(f"{sample.name}: a line without {column}: {line[:80]!r}")
            out.write(line)


def _machine_ticks() -> int:
    """Clock ticks all CPUs spent busy since boot (every /proc/stat column but idle, iowait)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values) - values[3] - values[4]


def _process_ticks(pid: int) -> int:
    """Clock ticks a process spent on CPU (utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def timed(settings: HubSettings, records: int, work: Callable[[], None]) -> Run:
    broker = read_pid(settings.home / "kafka" / "kafka.pid")  # where `sanwang up` keeps it
    if broker is None:
        raise SystemExit("the stack's broker is not running")
    start, cpu = time.perf_counter(), time.process_time()
    broker_ticks, busy = _process_ticks(broker), _machine_ticks()
    work()
    seconds = time.perf_counter() - start
    return Run(records / seconds, (time.process_time() - cpu) / records * 1e6,
               (_process_ticks(broker) - broker_ticks) / _TICKS / records * 1e6,
               (_machine_ticks() - busy) / _TICKS / records * 1e6)


def hub_run(settings: HubSettings, department: str, path: Path, rows: int) -> Run:
    hub = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:10]}"})
    ensure_topics(hub, all_topics(hub.topic_prefix))  # created before the clock starts
    ensure_acls(hub)
    _wait_for_acls(hub, department)

    def work() -> None:
        tally = backfill_file(hub, department, path, progress=False)
        if tally.read != rows or tally.published != rows:
            raise SystemExit(f"{department} hub run: {tally.summary()}, expected {rows} published")

    return timed(settings, rows, work)


def _wait_for_acls(settings: HubSettings, department: str, timeout: float = 60) -> None:
    """Until the department's principal may write its new topics (the broker applies new ACLs
    a moment after they are created; the publisher checks them when it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check_kafka(settings, department, writes=(
                raw_topic(settings.topic_prefix, department),
                dead_letter_topic(settings.topic_prefix)))
            return
        except BrokerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def bare_run(settings: HubSettings, department: str, path: Path, rows: int) -> Run:
    topic = f"bench{uuid.uuid4().hex[:10]}.bare.{department}"
    ensure_topics(settings, [topic])  # settings.topic_partitions, as the hub's topics

    def work() -> None:
        failures: list[Exception] = []
        producer = KafkaProducer(  # the admin: no ACL covers the bench topic; same SASL handshake
            **client_config(settings, ADMIN), client_id=f"sanwang-bench-{department}",
            acks="all", enable_idempotence=True, linger_ms=20, batch_size=256 * 1024,
            max_request_size=16 * 1024 * 1024)
        sent = 0
        for sent, value in enumerate(raw_records(path), 1):
            producer.send(topic, key=b"%032d" % sent, value=value).add_errback(failures.append)
        producer.flush(timeout=60)
        producer.close(timeout=30)
        if failures or sent != rows:
            raise SystemExit(f"{department} bare run: sent {sent} of {rows}, "
                             f"{len(failures)} failed, first: {failures[:1]!r}")

    return timed(settings, rows, work)


def machine(load: float) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    return (f"nproc {len(os.sched_getaffinity(0))} ({cpu}), Python {platform.python_version()}, "
            f"kafka-python {kafka.__version__}; broker on the same machine; "
            f"1-min load average {load:.2f} before the stack started")


def table(rows: int, results: dict[str, tuple[list[Run], list[Run]]]) -> str:
    """Medians per department: rates, their ratio, CPU per record (connector, broker, machine)."""
    lines = ["| department | records | hub records/s | bare records/s | hub/bare "
             "| connector CPU µs/rec hub, bare | broker µs/rec hub, bare "
             "| machine µs/rec hub, bare |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for department, (hub, bare) in results.items():
        def median(runs: list[Run], part: str) -> float:
            return statistics.median(getattr(r, part) for r in runs) if runs else float("nan")
        lines.append(
            f"| {department} | {rows:,} | {median(hub, 'rate'):,.0f} | {median(bare, 'rate'):,.0f}"
            f" | {median(hub, 'rate') / median(bare, 'rate'):.2f} | "
            + " | ".join(f"{median(hub, part):.0f}, {median(bare, part):.0f}"
                         for part in ("cpu_us", "broker_us", "machine_us")) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Backfill throughput: hub against bare producer")
    parser.add_argument("--rows", type=int, default=100_000, help="records per department")
    parser.add_argument("--runs", type=int, default=2, help="hub (and bare) runs per department")
    parser.add_argument("--hub-only", action="store_true",
                        help="time only the hub's side (to profile it)")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    departments = {name: d for name, d in all_departments().items()
                   if d.live.kind != "query_api"}  # grid workers' reports: no export to backfill
    if set(departments) != set(EXPORTS):
        raise SystemExit(f"declared {sorted(departments)}, sample exports for {sorted(EXPORTS)}")

    home = Path(tempfile.mkdtemp(prefix="sanwang-bench-stack-"))
    data = Path(tempfile.mkdtemp(prefix="sanwang-bench-data-"))
    settings = private_settings(home)
    results: dict[str, tuple[list[Run], list[Run]]] = {}
    load = os.getloadavg()[0]
    try:
        print(f"Starting a private stack in {home}", flush=True)
        up(settings, say=lambda line: print("   ", line, flush=True))
        for name, department in departments.items():
            path = data / EXPORTS[name]
            synthesize(department, SAMPLE / EXPORTS[name], path, args.rows)
            hub, bare = results.setdefault(name, ([], []))
            for _ in range(args.runs):
                hub.append(hub_run(settings, name, path, args.rows))
                if not args.hub_only:
                    bare.append(bare_run(settings, name, path, args.rows))
            for side, runs in (("hub", hub), ("bare", bare)):
                print(f"{name} {side}: {[round(r.rate) for r in runs]} records/s, CPU µs/record"
                      f" connector {[round(r.cpu_us) for r in runs]}, broker "
                      f"{[round(r.broker_us) for r in runs]}, machine "
                      f"{[round(r.machine_us) for r in runs]}", flush=True)
        print()
        print(table(args.rows, results))
        print()
        print(f"machine: {machine(load)}; 1-min load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if args.keep_stack:
            print(f"Stack left running, Kafka at {settings.bootstrap_servers}. Stop it with:\n"
                  f"  SANWANG_HOME={home} .venv/bin/sanwang down && "
                  f"rm -rf {home} {postgres.cluster_dir(settings)}")
        else:
            down(settings, say=lambda line: None)
            shutil.rmtree(postgres.cluster_dir(settings), ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
