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

from deploy.private_stack import free_port, settings_env
from deploy.settings import HubSettings


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
