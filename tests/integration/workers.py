"""The hub's processes as the integration tests run them: processor workers as subprocesses,
an ASGI app (the query API, the push endpoint) under uvicorn in a thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from kafka.errors import KafkaError

from deploy.private_stack import free_port, settings_env
from deploy.settings import HubSettings
from streams.lag import LagProbe


def worker_log(settings: HubSettings, name: str = "") -> Path:
    suffix = f"-{name}" if name else ""
    return settings.home / f"processor-{settings.topic_prefix}{suffix}.log"


def spawn_worker(settings: HubSettings, name: str = "", metrics_port: int = 0,
                 env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real `sanwang process` worker for these settings, logging to `worker_log`."""
    with open(worker_log(settings, name), "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "process", "--metrics-port", str(metrics_port),
             "--loglevel", "warning"], env={**settings_env(settings), **(env or {})},
            stdout=log, stderr=subprocess.STDOUT)


def joined(settings: HubSettings, proc: subprocess.Popen, timeout: float = 90.0
           ) -> subprocess.Popen:
    """`proc` once a worker is a member of the processor's consumer group (it takes events)."""
    probe = LagProbe(settings)
    deadline = time.monotonic() + timeout
    try:
        while not _members(probe):
            assert proc.poll() is None, f"the worker exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"no worker joined in {timeout:.0f} s"
            time.sleep(0.2)
    finally:
        probe.close()
    return proc


def _members(probe: LagProbe) -> int:
    try:
        return probe.members()
    except KafkaError as error:  # the group's coordinator is not there yet
        if not error.retriable:
            raise
        return 0


def stop_worker(proc: subprocess.Popen | None) -> None:
    """SIGTERM this worker (only it, by its pid), SIGKILL it if it does not stop in 30 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a thread; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
