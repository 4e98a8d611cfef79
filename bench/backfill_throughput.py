"""Backfill throughput: the hub's publish path against a bare kafka-python producer.

Run by hand, never by CI:

    .venv/bin/python bench/backfill_throughput.py [--rows N] [--keep-stack]

Starts a private stack (Kafka, PostgreSQL, Prometheus: state in a temporary directory, free
ports), writes a synthetic copy of each department's sample export with N records (the sample's
rows cycled, each given a unique record id: no value that is not already in the sample), then
per department times, alternating hub, bare, hub, bare:

- hub: `backfill_file(..., progress=False)`, i.e. read, map, validate, publish, checkpoint;
- bare: one KafkaProducer with the publisher's settings sending each record's raw bytes (the
  file's line without its line end) as one message, keyed like the hub (32 bytes per record).

Each run goes to topics of its own (a fresh prefix) with the stack's partition count; the clock
runs from before the producer is created until everything is acknowledged and it is closed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import kafka
from harness import raw_records
from kafka import KafkaProducer

from cli.demo import DEFAULT_SAMPLE as SAMPLE
from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.kafka_acls import ensure_acls
from deploy.kafka_auth import ADMIN, client_config
from deploy.private_stack import private_settings
from deploy.settings import HubSettings
from deploy.stack import down, up
from deploy.topics import ensure_topics
from schemas.topics import all_topics

# department: (sample file, record id prefix); the record id is the first CSV column
# (police 变动流水号, civil affairs 业务流水号) or the "serial" key of a JSONL line.
DEPARTMENTS = {
    "police": ("police_population.csv", "GA"),
    "civil_affairs": ("civil_affairs.csv", "MZ"),
    "social_security": ("social_security.jsonl", "RS"),
}
SERIAL = re.compile(rb'"serial": "[^"]*"')


def synthesize(sample: Path, target: Path, rows: int, prefix: str) -> None:
    """`rows` records cycled from `sample`, same encoding and bytes but a unique record id each."""
    lines = sample.read_bytes().splitlines(keepends=True)
    is_csv = sample.suffix == ".csv"
    header, body = (lines[0], lines[1:]) if is_csv else (b"", lines)  # the BOM stays on line 1
    body = [line for line in body if line.strip()]
    with open(target, "wb") as out:
        out.write(header)
        for n in range(rows):
            line, record_id = body[n % len(body)], f"{prefix}{n:015d}".encode()
            if is_csv:
                line = record_id + line[line.index(b","):]
            else:
                line, found = SERIAL.subn(b'"serial": "' + record_id + b'"', line, count=1)
                if found != 1:
                    raise ValueError(f"{sample.name}: a line without a serial: {line[:80]!r}")
            out.write(line)


def hub_rate(settings: HubSettings, department: str, path: Path, rows: int) -> float:
    hub = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:10]}"})
    ensure_topics(hub, all_topics(hub.topic_prefix))  # created before the clock starts
    ensure_acls(hub)
    start = time.perf_counter()
    tally = backfill_file(hub, department, path, progress=False)
    seconds = time.perf_counter() - start
    if tally.read != rows or tally.published != rows:
        raise SystemExit(f"{department} hub run: {tally.summary()}, expected {rows} published")
    return rows / seconds


def bare_rate(settings: HubSettings, department: str, path: Path, rows: int) -> float:
    topic = f"bench{uuid.uuid4().hex[:10]}.bare.{department}"
    ensure_topics(settings, [topic])  # settings.topic_partitions, as the hub's topics
    failures: list[Exception] = []
    start = time.perf_counter()
    producer = KafkaProducer(  # the admin: no ACL covers the bench topic; same SASL handshake
        **client_config(settings, ADMIN), client_id=f"sanwang-bench-{department}",
        acks="all", enable_idempotence=True, linger_ms=20, batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024)
    sent = 0
    for sent, value in enumerate(raw_records(path), 1):
        producer.send(topic, key=b"%032d" % sent, value=value).add_errback(failures.append)
    producer.flush(timeout=60)
    producer.close(timeout=30)
    seconds = time.perf_counter() - start
    if failures or sent != rows:
        raise SystemExit(f"{department} bare run: sent {sent} of {rows}, "
                         f"{len(failures)} failed, first: {failures[:1]!r}")
    return rows / seconds


def machine(load: float) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    return (f"nproc {len(os.sched_getaffinity(0))} ({cpu}), Python {platform.python_version()}, "
            f"kafka-python {kafka.__version__}; broker on the same machine; "
            f"1-min load average {load:.2f} before the stack started")


def table(results: list[tuple[str, int, float, float]]) -> str:
    lines = ["| department | records | hub records/s | bare records/s | hub/bare |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {d} | {n:,} | {hub:,.0f} | {bare:,.0f} | {hub / bare:.2f} |"
              for d, n, hub, bare in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Backfill throughput: hub against bare producer")
    parser.add_argument("--rows", type=int, default=100_000, help="records per department")
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sanwang-bench-stack-"))
    data = Path(tempfile.mkdtemp(prefix="sanwang-bench-data-"))
    settings = private_settings(home)
    results, load = [], os.getloadavg()[0]
    try:
        print(f"Starting a private stack in {home}", flush=True)
        up(settings, say=lambda line: print("   ", line, flush=True))
        for department, (name, prefix) in DEPARTMENTS.items():
            path = data / name
            synthesize(SAMPLE / name, path, args.rows, prefix)
            hub, bare = [], []
            for _ in range(2):
                hub.append(hub_rate(settings, department, path, args.rows))
                bare.append(bare_rate(settings, department, path, args.rows))
            print(f"{department}: hub {[round(r) for r in hub]}, "
                  f"bare {[round(r) for r in bare]} records/s", flush=True)
            results.append((department, args.rows, max(hub), max(bare)))
        print()
        print(table(results))
        print()
        print(f"machine: {machine(load)}")
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
