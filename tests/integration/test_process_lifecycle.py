"""The hub's processes as an operator runs them: they stop when asked (SIGTERM, SIGINT) within
10 s whatever the broker is doing, losing nothing; they stop at once, naming the principal, when
Kafka refuses it; workers on one machine each serve metrics that Prometheus finds; `sanwang wait`
says at once when no processor would store what waits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion

from connectors.file_backfill import backfill_file
from deploy import kafka_broker, metrics_targets, postgres
from deploy.kafka_acls import ensure_principals
from deploy.kafka_auth import ADMIN, MECHANISM, PROCESSOR, client_config
from deploy.private_stack import free_port, settings_env
from deploy.processes import read_pid
from deploy.settings import HubSettings
from streams.lag import LagProbe
from tests.integration.conftest import hub_settings
from tests.integration.fault_tools import (
    kafka_pid_file,
    kill_9,
    landing_problems,
    log_tail,
    published_events,
    spawn_processor,
    total_lag,
    wait_caught_up,
)
from tests.integration.workers import joined, stop_worker, worker_log
from tests.samples import SAMPLE

STOP_SECONDS = 10.0
SIGTERM_EXIT, SIGINT_EXIT = 128 + signal.SIGTERM, 128 + signal.SIGINT


def _sanwang(settings: HubSettings, log: Path, *args: str) -> subprocess.Popen:
    """`sanwang ARGS` for these settings, stdout and stderr to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args],
                                env=settings_env(settings), stdout=out,
                                stderr=subprocess.STDOUT)


def _wait_for_line(proc: subprocess.Popen, log: Path, text: str, timeout: float = 60.0) -> str:
    """The first line of the log holding `text`, once the process wrote it."""
    deadline = time.monotonic() + timeout
    while True:
        for line in log.read_text(errors="replace").splitlines():
            if text in line:
                return line
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log_tail(log)}"
        assert time.monotonic() < deadline, f"no {text!r} in {timeout:.0f} s:\n{log_tail(log)}"
        time.sleep(0.1)


def _stop(proc: subprocess.Popen, sig: signal.Signals = signal.SIGTERM) -> tuple[int, float]:
    """Send `sig`; the exit status and how long the process took to end."""
    proc.send_signal(sig)
    sent = time.monotonic()
    try:
        code = proc.wait(timeout=STOP_SECONDS + 20)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, time.monotonic() - sent


# --- stopping when asked ----------------------------------------------------------------------

@pytest.fixture
def events_locked(hub: HubSettings) -> Iterator[psycopg2.extensions.connection]:
    """hub.events locked by a transaction of the test's own: a batch that tries to land waits."""
    conn = postgres.connect(postgres.dsn(hub))
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE hub.events IN ACCESS EXCLUSIVE MODE")
    yield conn
    conn.rollback()
    conn.close()


def _batch_waits_on_the_lock(settings: HubSettings, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    with postgres.autocommit_cursor(settings, postgres.ADMIN_ROLE, "postgres") as cur:
        while True:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND usename ="
                        " 'sanwang_processor' AND wait_event_type = 'Lock'", (settings.database,))
            if cur.fetchone()[0]:
                return
            assert worker.poll() is None, log_tail(worker_log(settings, "stopped"))
            assert time.monotonic() < deadline, "the worker never started a batch"
            time.sleep(0.2)


def test_sigterm_with_a_batch_in_flight_and_the_broker_gone_stops_in_time_losing_nothing(
        stack: HubSettings, hub: HubSettings, events_locked: object) -> None:
    for department, name in (("police", "police_population.csv"),
                             ("civil_affairs", "civil_affairs.csv")):
        assert backfill_file(hub, department, SAMPLE / name, progress=False).reconciles
    published = published_events(hub)
    worker = replacement = None
    try:
        worker = spawn_processor(hub, "stopped")
        _batch_waits_on_the_lock(hub, worker)  # a batch read, not stored: it must not be acked
        kill_9(read_pid(kafka_pid_file(stack)))
        code, took = _stop(worker)
        assert (code, took < STOP_SECONDS) == (SIGTERM_EXIT, True), (
            f"exit {code} after {took:.1f} s:\n{log_tail(worker_log(hub, 'stopped'))}")
    finally:
        stop_worker(worker)
        if not kafka_broker.is_running_locally(stack):
            kafka_broker.start(stack)
    events_locked.rollback()  # type: ignore[attr-defined]
    probe = LagProbe(hub)
    try:
        deadline = time.monotonic() + 60
        while (lag := total_lag(probe)) is None:  # the restarted broker loads its groups
            assert time.monotonic() < deadline, "no lag from the restarted broker"
            time.sleep(0.5)
    finally:
        probe.close()
    assert lag == len(published.ids), "the stopped worker acknowledged events it never stored"
    try:
        replacement = spawn_processor(hub, "replacement")
        wait_caught_up(hub, 120, replacement, "replacement")
    finally:
        stop_worker(replacement)
    assert landing_problems(hub, published) == []
    print(f"\nSIGTERM with a batch waiting and the broker killed: exit {code} in {took:.1f} s; "
          f"{len(published.distinct)} events each stored once after a restart")


@pytest.fixture
def big_export(tmp_path: Path) -> Path:
    """The sample's police export 40 times over (the same records: a backfill of seconds)."""
    lines = (SAMPLE / "police_population.csv").read_bytes().splitlines(keepends=True)
    path = tmp_path / "police_population.csv"
    path.write_bytes(lines[0] + b"".join(lines[1:]) * 40)
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_long_running_commands_stop_when_asked(
        hub: HubSettings, police_db: str, big_export: Path, tmp_path: Path,
        sig: signal.Signals) -> None:
    (tmp_path / "drop").mkdir()
    commands = {  # what each prints once it runs
        "processor": (["process"], "]: Ready"),
        "police live": (["connect", "police", "--db", police_db], "streaming t_rk_bdjl changes"),
        "drop folder": (["connect", "civil-affairs", "--watch", str(tmp_path / "drop")],
                        "watching"),
        "push endpoint": (["connect", "social-security", "--listen"], "push endpoint on"),
        "query API": (["api", "serve", "--listen", f"127.0.0.1:{free_port()}"],
                      "query API on"),
        "backfill": (["connect", "police", "--file", str(big_export), "--no-progress"], None),
    }
    results, pids = {}, []
    for name, (argv, ready) in commands.items():
        log = tmp_path / f"{name}.log"
        proc = _sanwang(hub, log, *argv)
        pids.append(str(proc.pid))
        if ready is None:
            _wait_until_publishing(hub, proc, log)
        else:
            _wait_for_line(proc, log, ready)
        code, took = _stop(proc, sig)
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"{name}:\n{text[-2000:]}"
        results[name] = (code, round(took, 1))
    assert {name: code for name, (code, _) in results.items()} == dict.fromkeys(
        commands, 128 + sig), results
    assert all(took < STOP_SECONDS for _, took in results.values()), results
    left = [p.name for p in metrics_targets.targets_dir(hub).glob("*.json")
            if p.stem.rpartition("-")[2] in pids]
    assert left == [], "stopped as asked, a process leaves no Prometheus target behind"
    rerun = subprocess.run([sys.executable, "-m", "cli.main", "connect", "police", "--file",
                            str(big_export), "--no-progress"], env=settings_env(hub),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and "resumed at byte" in rerun.stdout, rerun.stdout
    print(f"\nstopped by {sig.name}: {results}")


def _wait_until_publishing(settings: HubSettings, proc: subprocess.Popen, log: Path) -> None:
    """Until the backfill saved progress: it is mid-file."""
    folder = settings.home.resolve() / "checkpoints"
    before = set(folder.glob("*.json")) if folder.exists() else set()
    deadline = time.monotonic() + 60
    while not (set(folder.glob("*.json")) - before if folder.exists() else set()):
        assert proc.poll() is None, f"the backfill ended first:\n{log_tail(log)}"
        assert time.monotonic() < deadline, log_tail(log)
        time.sleep(0.05)


# --- refusals that retrying cannot cure -------------------------------------------------------

def _as_external(settings: HubSettings, principal: str, password: str) -> dict[str, str]:
    """The environment that makes a process log in to the local broker as given."""
    return {"SANWANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
            "SANWANG_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SANWANG_KAFKA_PRINCIPAL": principal, "SANWANG_KAFKA_PASSWORD": password}


@pytest.mark.parametrize(("argv", "principal"), [
    (["process", "--metrics-port", "0"], "processor"),
    (["connect", "police", "--file", str(SAMPLE / "police_population.csv")], "police"),
], ids=["processor", "backfill"])
def test_wrong_kafka_credentials_stop_at_once_naming_the_principal(
        hub: HubSettings, argv: list[str], principal: str) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv],
                          env={**settings_env(hub), **_as_external(hub, principal, "wrong")},
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 5 and took < 30, (done.returncode, took, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"sanwang {argv[0]}") and f"'{principal}'" in done.stderr, done.stderr


def test_a_processor_whose_principal_the_broker_stops_knowing_exits(
        stack: HubSettings) -> None:
    """The incident: the broker on the processor's address no longer takes its credentials;
    faust would retry forever, the worker ends within ~10 s (its next check) naming them."""
    hub = hub_settings(stack)
    worker = spawn_processor(hub, "refused")
    admin = KafkaAdminClient(**client_config(stack, ADMIN), client_id="sanwang-test")
    try:
        wait_caught_up(hub, 60, worker, "refused")
        admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
            PROCESSOR, MECHANISM, "not-the-password-it-has")])
        code = worker.wait(timeout=30)
    finally:
        admin.close()
        stop_worker(worker)
        ensure_principals(stack)  # the processor's own password again, for the other tests
    text = worker_log(hub, "refused").read_text(errors="replace")
    assert code == 5, log_tail(worker_log(hub, "refused"))
    assert f"refused principal '{PROCESSOR}'" in text and "Traceback" not in text


# --- ports and Prometheus ---------------------------------------------------------------------

def _prometheus_targets(settings: HubSettings) -> list[dict]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/targets?state=active"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["activeTargets"]


def test_two_workers_on_one_machine_both_serve_metrics_and_are_scraped(
        hub: HubSettings, tmp_path: Path) -> None:
    # as a user runs them: the port setting unset, so its default (19100) or a free one
    env = {k: v for k, v in settings_env(hub).items() if k != "SANWANG_PROCESSOR_METRICS_PORT"}
    workers, ports = [], []
    try:
        for name in ("first", "second"):
            log = tmp_path / f"{name}.log"
            with open(log, "ab") as out:
                workers.append(subprocess.Popen([sys.executable, "-m", "cli.main", "process"],
                                                env=env, stdout=out, stderr=subprocess.STDOUT))
            line = _wait_for_line(workers[-1], log, "processor metrics on")
            ports.append(int(line.rsplit(":", 1)[1].split("/")[0]))
        assert ports[0] != ports[1]
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                assert b"sanwang_processor_events_stored_total" in r.read()
        pids = {str(w.pid) for w in workers}
        deadline = time.monotonic() + 60
        while True:
            up = {t["labels"].get("pid") for t in _prometheus_targets(hub)
                  if t["labels"]["job"] == metrics_targets.PROCESSOR and t["health"] == "up"}
            if pids <= up:
                break
            assert time.monotonic() < deadline, f"Prometheus scrapes {up}, workers {pids}"
            time.sleep(1)
        taken = subprocess.run([sys.executable, "-m", "cli.main", "process", "--metrics-port",
                                str(ports[0])], env=env,
                               capture_output=True, text=True, timeout=60)
        assert taken.returncode == 3 and f"{ports[0]} is taken" in taken.stderr, taken.stderr
        assert len(taken.stderr.strip().splitlines()) == 1, taken.stderr
    finally:
        for worker in workers:
            stop_worker(worker)
    assert not [p for p in metrics_targets.targets_dir(hub).glob("*.json")
                if p.stem.endswith(tuple(pids))]


# --- sanwang wait -----------------------------------------------------------------------------

def test_wait_says_at_once_that_no_processor_runs(hub: HubSettings) -> None:
    assert backfill_file(hub, "civil_affairs", SAMPLE / "civil_affairs.csv",
                         progress=False).published
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cli.main", "wait", "--timeout", "120"],
                          env=settings_env(hub), capture_output=True, text=True, timeout=130)
    assert done.returncode == 4 and time.monotonic() - started < 15, done.stderr
    assert done.stderr.startswith("sanwang wait: no processor is in consumer group")
    worker = spawn_processor(hub, "waited-for")  # no metrics port: it is known once a member
    try:
        joined(hub, worker)
        done = subprocess.run([sys.executable, "-m", "cli.main", "wait", "--timeout", "120"],
                              env=settings_env(hub), capture_output=True, text=True, timeout=130)
    finally:
        stop_worker(worker)
    assert done.returncode == 0, done.stderr
