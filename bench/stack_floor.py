"""The floor of the chosen stack: the hub's path with every piece of its own logic left out.

Run by hand, never by CI:

    PYTHONPATH=$PWD .venv/bin/python bench/stack_floor.py --persons 20000 [--seed 7]
        [--workers 2] [--partitions 3] [--batch 2000]

Issue 17 asks for 5,000 records/s end to end and half of the raw pipeline's rate, on two cores
shared with Kafka and PostgreSQL: about 0.4 ms of CPU per record for everything. This measures
what the stack the project must use costs before the hub does anything: one run, on a private
stack (temporary state directory, free ports), on a generated city:

1. raw: the city's raw lines through a kafka-python producer, one kafka-python consumer and
   COPY into PostgreSQL (bench/raw_pipeline.py, as city_scale.py measures it), before and after
   the floor; the mean is the reference;
2. floor: the canonical events the departments' connectors would publish, mapped, validated and
   serialized before the clock starts, sent by one kafka-python producer with the connectors'
   settings (acks=all, idempotence, linger 20 ms, the same keys and headers) to the hub's raw
   topics; `--workers` faust workers with the processor's app settings, batch size and wait
   (bench/floor_worker.py) COPY each batch into a table and do nothing else. The clock runs from
   the first send until the table holds every record; CPU seconds are read from /proc for each
   part: the producer (this process), the broker's JVM, the faust workers, PostgreSQL (the
   postmaster and every backend, ended ones too);
3. the mapping's CPU per record (records to serialized events, timed before the clock), and
   what the floor and the mapping leave for the merge under the issue's two rate targets.

What the hub adds on top (mapping in the connector, the merge in the processor and its
statements in PostgreSQL) is measured by backfill_throughput.py and store_throughput.py; this
script shows what no design on this stack can take away.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from harness import CHECKOUT, EXPORTS, CpuMeter, machine, private_stack, wait_for_group
from kafka import KafkaProducer
from raw_pipeline import raw_rate
from store_throughput import department_events

from connectors.publisher import partition_key
from connectors.synthetic_city import generate_city
from deploy import postgres
from deploy.kafka_auth import ADMIN, client_config
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.events import KAFKA_HEADERS, canonical_json, with_time
from schemas.topics import raw_topic

BUDGET_MS = 0.4  # CPU per record that 5,000 records/s on two cores leaves (issue 17)
PARTS = ("this process: producer (raw: and consumer)", "broker", "faust workers", "PostgreSQL")


@dataclass(frozen=True)
class Run:
    """A pipeline's records, wall seconds and CPU seconds by part (PARTS' order)."""

    records: int
    seconds: float
    cpu: tuple[float, ...]

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    def ms_per_record(self, part: int | None = None) -> float:
        """CPU ms per record of one part, or of all of them."""
        spent = sum(self.cpu) if part is None else self.cpu[part]
        return 1000 * spent / self.records


def city_messages(city: Path) -> list[tuple[str, bytes, bytes]]:
    """(department, key, value) of every event the city's backfills would publish, serialized
    as EventPublisher serializes them."""
    now = datetime.now(UTC)
    return [(department, partition_key(event), canonical_json(with_time(event, now)))
            for department, name in EXPORTS for event in department_events(city, department, name)]


def raw_run(settings: HubSettings, city: Path, run: int) -> Run:
    """The raw pipeline (bench/raw_pipeline.py) with its CPU by part."""
    meter = CpuMeter(settings, [])
    records, rate = raw_rate(settings, city, run)
    return Run(records, records / rate, meter.read())


def floor_run(settings: HubSettings, messages: list[tuple[str, bytes, bytes]], workers: int
              ) -> Run:
    """Publish `messages` into the faust workers; wait until every one is stored."""
    conn = psycopg2.connect(postgres.dsn(settings))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE public.floor_events (topic text, kafka_partition integer, "
                    "kafka_offset bigint, message bytea)")
        cur.execute("CREATE TABLE public.floor_progress (stored bigint NOT NULL)")
        cur.execute("INSERT INTO public.floor_progress VALUES (0)")
    spawned = [subprocess.Popen([sys.executable, str(CHECKOUT / "bench" / "floor_worker.py"),
                                 "worker"], env=settings_env(settings), cwd=CHECKOUT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
               for _ in range(workers)]
    try:
        wait_for_group(settings, workers)
        meter = CpuMeter(settings, [w.pid for w in spawned])
        start = time.monotonic()
        producer = KafkaProducer(**client_config(settings, ADMIN), acks="all",
                                 enable_idempotence=True, linger_ms=20, batch_size=256 * 1024)
        failures: list[Exception] = []
        for department, key, value in messages:
            producer.send(raw_topic(settings.topic_prefix, department), key=key, value=value,
                          headers=KAFKA_HEADERS).add_errback(failures.append)
        producer.flush(timeout=120)
        producer.close(timeout=30)
        print(f"  floor: {len(messages)} events published in {time.monotonic() - start:.1f} s",
              flush=True)
        if failures:
            raise SystemExit(f"floor: {len(failures)} sends failed, first {failures[:1]!r}")
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT stored FROM public.floor_progress")
                if cur.fetchone()[0] >= len(messages):
                    break
                time.sleep(0.05)
        seconds = time.monotonic() - start
        cpu = meter.read()
    finally:
        conn.close()
        for worker in spawned:
            worker.terminate()
        for worker in spawned:
            worker.wait(timeout=60)
    return Run(len(messages), seconds, cpu)


def mean_rate(runs: list[Run]) -> float:
    return sum(r.rate for r in runs) / len(runs)


def report(persons: int, raw: list[Run], floor: Run) -> str:
    """The Markdown rows: the floor's rate against raw, and CPU per record by part."""
    lines = ["| persons | records | raw rec/s (before, after) | floor rec/s | floor/raw "
             f"| floor CPU ms/rec | of the {BUDGET_MS} ms budget |",
             "|---:|---:|---|---:|---:|---:|---:|",
             f"| {persons:,} | {floor.records:,} | {raw[0].rate:,.0f}, {raw[1].rate:,.0f} "
             f"| {floor.rate:,.0f} | {floor.rate / mean_rate(raw):.2f} "
             f"| {floor.ms_per_record():.3f} | {floor.ms_per_record() / BUDGET_MS:.2f} |",
             "",
             "| CPU ms per record | raw (before, after) | floor |",
             "|---|---:|---:|"]
    lines += [f"| {part} | {raw[0].ms_per_record(n):.3f}, {raw[1].ms_per_record(n):.3f} "
              f"| {floor.ms_per_record(n):.3f} |" for n, part in enumerate(PARTS)]
    lines.append(f"| all | {raw[0].ms_per_record():.3f}, {raw[1].ms_per_record():.3f} "
                 f"| {floor.ms_per_record():.3f} |")
    return "\n".join(lines)


def verdict(raw: list[Run], floor: Run, mapping_ms: float) -> str:
    """What the floor leaves for the hub's own work under each of issue 17's rate targets."""
    cores = len(os.sched_getaffinity(0))
    least = floor.ms_per_record() + mapping_ms
    half_raw = 0.5 * mean_rate(raw)
    allowed = 1000 * cores / half_raw
    return "\n".join([
        "",
        f"- the connectors' mapping (records to serialized events, before the clock): "
        f"{mapping_ms:.3f} ms of CPU per record",
        f"- the least the hub can spend per record (floor + mapping): {least:.3f} ms",
        f"- half the raw rate ({half_raw:,.0f} records/s) on {cores} cores allows at most "
        f"{allowed:.3f} ms per record: {allowed - least:.3f} ms left for the merge",
        f"- 5,000 records/s allows {BUDGET_MS} ms: {BUDGET_MS - least:.3f} ms left for the "
        "merge (its Python and its PostgreSQL statements)"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="faust workers in the group")
    parser.add_argument("--partitions", type=int, default=3, help="of each raw topic")
    parser.add_argument("--batch", type=int, default=HubSettings().processor_batch_size,
                        help="the most events a worker takes at once (the processor's setting)")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sanwang-floor-") as home:
        city = Path(home) / "city"
        generate_city(args.persons, args.seed, city)
        mapping = time.process_time()
        messages = city_messages(city)
        mapping_ms = 1000 * (time.process_time() - mapping) / len(messages)
        print(f"  city: {args.persons} persons, seed {args.seed}, {len(messages)} events "
              f"({sum(len(v) for _, _, v in messages) / len(messages):,.0f} bytes each)",
              flush=True)
        with private_stack(Path(home) / "stack", args.partitions) as stack:
            settings = stack.model_copy(update={"processor_batch_size": args.batch})
            raw = [raw_run(settings, city, 1)]
            floor = floor_run(settings, messages, args.workers)
            raw.append(raw_run(settings, city, 2))
    print(f"  raw: {raw[0].records} records; floor: {floor.records} events stored in "
          f"{floor.seconds:.1f} s", flush=True)
    print(f"  {machine()} at the end")
    print(report(args.persons, raw, floor))
    print(verdict(raw, floor, mapping_ms))


if __name__ == "__main__":
    main()
