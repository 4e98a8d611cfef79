"""What the benchmarks share: a private stack, a generated city, processor workers, their memory.

The benchmarks are scripts run from `bench/`, so they import this module by its bare name.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
from kafka import KafkaAdminClient
from kafka.errors import CoordinatorNotAvailableError
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from connectors.synthetic_output import EXPORTS as CITY_FILES
from deploy import kafka_broker, postgres
from deploy.kafka_auth import ADMIN, client_config
from deploy.private_stack import free_port, private_settings, settings_env
from deploy.settings import HubSettings
from deploy.stack import down, up
from schemas.topics import processor_group

# the checkout this script belongs to: workers run its code whatever the caller's directory
# (`python -m` puts the working directory first on sys.path, before PYTHONPATH)
CHECKOUT = Path(__file__).resolve().parent.parent
# department, export file in a generated (or the sample) city
EXPORTS = tuple((department, name) for department, (name, _) in CITY_FILES.items())


@contextmanager
def private_stack(home: Path, partitions: int = 3) -> Iterator[HubSettings]:
    """Kafka, PostgreSQL and Prometheus in `home` on free ports; stopped and removed after,
    also when the script gets SIGTERM (a script started in the background ignores SIGINT)."""
    settings = private_settings(home, partitions)
    previous = signal.signal(signal.SIGTERM, _exit)
    up(settings, say=lambda line: None)
    try:
        yield settings
    finally:
        down(settings, say=lambda line: None)
        remove_private_postgres(settings)
        signal.signal(signal.SIGTERM, previous)


def remove_private_postgres(settings: HubSettings) -> None:
    """Stop a script's own PostgreSQL and remove its cluster: run as root, the cluster lives in
    /var/tmp (deploy/postgres.py, cluster_dir), outside the temporary home removed after it,
    and each run left a gigabyte there."""
    postgres.stop_local(settings)
    shutil.rmtree(postgres.cluster_dir(settings), ignore_errors=True)


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def load_grids(settings: HubSettings, city: Path) -> None:
    """The city's grid reference, as `sanwang grids` loads it (findings and placement use it)."""
    subprocess.run([sys.executable, "-m", "cli.main", "grids", str(city / "grids.csv")],
                   env=settings_env(settings), cwd=CHECKOUT, check=True, capture_output=True)


def spawn_workers(settings: HubSettings, count: int) -> list[subprocess.Popen]:
    """`count` real `sanwang process` workers in one consumer group, logging to `home`, each
    serving its metrics on a free port (`BatchTimes` reads them)."""
    workers = []
    for n in range(count):
        with open(settings.home / f"processor-{n}.log", "ab") as log:  # the child keeps its own
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "cli.main", "process", "--loglevel", "warning",
                 METRICS_PORT, str(free_port())], env=settings_env(settings), cwd=CHECKOUT,
                stdout=log, stderr=subprocess.STDOUT))
    return workers


METRICS_PORT = "--metrics-port"


def worker_samples(settings: HubSettings, worker: subprocess.Popen) -> Iterator[Sample]:
    """Every sample a worker's metrics show now (its port read from its command line)."""
    url = (f"http://{settings.metrics_host}:"
           f"{worker.args[worker.args.index(METRICS_PORT) + 1]}/metrics")
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        yield from family.samples


class BatchTimes:
    """The workers' batches from now on, as their metrics count them: seconds in a batch's
    transactions and seconds of their own CPU (sanwang_processor_batch_seconds and
    sanwang_processor_batch_cpu_seconds); the difference waited for PostgreSQL, for locks or
    for a core."""

    def __init__(self, settings: HubSettings, workers: list[subprocess.Popen]) -> None:
        self._settings, self._workers = settings, workers
        self._before = self._sums()

    def read(self) -> tuple[float, float]:
        wall, cpu = self._sums()
        return wall - self._before[0], cpu - self._before[1]

    def _sums(self) -> tuple[float, float]:
        sums = {"sanwang_processor_batch_seconds_sum": 0.0,
                "sanwang_processor_batch_cpu_seconds_sum": 0.0}
        for worker in self._workers:
            for sample in worker_samples(self._settings, worker):
                if sample.name in sums:
                    sums[sample.name] += sample.value
        return sums["sanwang_processor_batch_seconds_sum"], sums[
            "sanwang_processor_batch_cpu_seconds_sum"]


def wait_for_group(settings: HubSettings, members: int, timeout: float = 180) -> None:
    """Return once the processors' consumer group is stable with `members` workers, so that a
    clock started afterwards does not time the workers' start-up."""
    group = processor_group(settings.topic_prefix)
    admin = KafkaAdminClient(**client_config(settings, ADMIN))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                described = admin.describe_groups([group]).get(group, {})
            except CoordinatorNotAvailableError:  # a broker just started: no coordinator yet
                described = {}
            if (described.get("group_state") == "Stable"
                    and len(described.get("members", ())) == members):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{group} not stable with {members} members: {described}")
            time.sleep(0.5)
    finally:
        admin.close()


def wait_until_settled(settings: HubSettings, timeout: float = 1800) -> float:
    """When no record waits to be linked again and, if the processors re-estimate and the store
    is big enough for it (streams/reestimate.py), its parameters were estimated from every
    landed event and owe no relink: the time."""
    conn = postgres.connect(postgres.dsn(settings))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT NOT EXISTS (SELECT FROM hub.relink_pending) AND (NOT %s"
                            " OR (SELECT count(*) FROM hub.source_records) < %s"
                            " OR coalesce((SELECT events_seen = (SELECT count(*) FROM hub.events)"
                            " AND NOT relink_owed FROM hub.match_parameters), false))",
                            (settings.reestimate_seconds > 0, settings.reestimate_min_records))
                if cur.fetchone()[0]:
                    return time.monotonic()
            time.sleep(1)
    finally:
        conn.close()
    raise TimeoutError(f"the parameters did not settle in {timeout:.0f} s")


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """SIGTERM each worker by its pid; SIGKILL the ones still running after 60 s."""
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _status_kib(pid: int, field: str) -> int:
    """A `/proc/<pid>/status` size in KiB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc's children lists."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of process trees so far: every live process in them, and the
    children their roots have reaped (a PostgreSQL backend that has ended counts in its
    postmaster)."""
    ticks = 0
    for root in roots:
        for pid in _tree(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            if pid == root:
                ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds from now on of this process, the broker, PostgreSQL and `workers`."""

    def __init__(self, settings: HubSettings, workers: list[int]) -> None:
        self._roots = ([kafka_broker.local_pid(settings)], workers,
                       [postgres.local_pid(settings)])
        self._own = time.process_time()
        self._before = [cpu_seconds(r) for r in self._roots]

    def read(self) -> tuple[float, ...]:
        broker, workers, database = (cpu_seconds(r) - b
                                     for r, b in zip(self._roots, self._before, strict=True))
        return (time.process_time() - self._own, broker, workers, database)


class PeakMemory:
    """Peak resident memory of process trees, polled every `interval` s in a thread.

    The figure is the largest sum of VmRSS over the trees seen by a poll, and never less than
    the largest single process's VmHWM (the kernel's own peak, which a poll can miss).
    """

    def __init__(self, pids: list[int], interval: float = 0.25) -> None:
        self._pids, self._interval = pids, interval
        self._peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            tree = [p for root in self._pids for p in _tree(root)]
            rss = sum(_status_kib(p, "VmRSS") for p in tree)
            hwm = max((_status_kib(p, "VmHWM") for p in tree), default=0)
            self._peak_kib = max(self._peak_kib, rss, hwm)

    def stop(self) -> float:
        """Stop polling; the peak in MiB."""
        self._stop.set()
        self._thread.join()
        return self._peak_kib / 1024


class LockWaits:
    """How much of the time the processors' merges wait for each other's locks.

    Every `interval` s a thread reads pg_stat_activity (as the admin role: only it sees other
    roles' wait events) and counts, among the processors' connections running a statement or
    inside a transaction, those waiting on a lock: an advisory one (the residents a merge
    rewrites, record_store.lock_residents) or a row another transaction writes (a record, an
    edge). And how many transactions PostgreSQL rolled back in a deadlock meanwhile (each one
    costs its batch's work and a second of `deadlock_timeout`).
    """

    def __init__(self, settings: HubSettings, interval: float = 0.5) -> None:
        self._dsn = postgres.dsn(settings, postgres.ADMIN_ROLE, "postgres")
        self._interval = interval
        self.busy = self.waiting = 0  # connection-samples
        self._deadlocks_before = self._deadlocks()
        self.deadlocks = 0  # counted at `stop`
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self._stop.wait(self._interval):
                    cur.execute("""
                        SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')
                          FROM pg_stat_activity
                         WHERE usename = 'sanwang_processor' AND state <> 'idle'""")
                    busy, waiting = cur.fetchone()
                    self.busy += busy
                    self.waiting += waiting
        finally:
            conn.close()

    def _deadlocks(self) -> int:
        """Deadlocks PostgreSQL has counted in every database of the cluster."""
        with closing(psycopg2.connect(self._dsn)) as conn, conn.cursor() as cur:
            cur.execute("SELECT coalesce(sum(deadlocks), 0) FROM pg_stat_database")
            return int(cur.fetchone()[0])

    def stop(self) -> float:
        """Stop sampling and count the deadlocks; the share of the merges' busy time spent
        waiting on locks."""
        self._stop.set()
        self._thread.join()
        self.deadlocks = self._deadlocks() - self._deadlocks_before
        return self.waiting / self.busy if self.busy else 0.0


def raw_records(path: Path) -> Iterator[bytes]:
    """Each record's bytes as the file holds them, header and line end left out."""
    with open(path, "rb") as file:
        if path.suffix == ".csv":
            file.readline()
        for line in file:
            if line.strip():
                yield line.rstrip(b"\r\n")


def machine() -> str:
    """The CPU, core count and load, to print beside every result."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"nproc {len(os.sched_getaffinity(0))} ({cpu}), Python "
            f"{platform.python_version()}, load average {load}")
