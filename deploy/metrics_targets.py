"""Where each hub process on this machine serves /metrics, so that the local Prometheus finds
every one of them, however many run.

A process serves the port it was given (`--metrics-port`, or the setting when set): taken, that
is an error. Otherwise it takes the default, or any free port when another process has it. It
then writes itself as a Prometheus file_sd target, `$SANWANG_HOME/prometheus/targets/
<job>-<pid>.json`, which the scrape config reads (deploy/prometheus.py). The file goes when the
process stops because it was asked to; a process that died keeps it, so Prometheus shows it down
(`up == 0`), until a process started later finds that pid gone and removes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from prometheus_client import start_http_server

from deploy import stopping
from deploy.errors import ConfigurationError
from deploy.processes import is_alive
from deploy.settings import HubSettings

PROCESSOR, CONNECTORS, API = "sanwang-processor", "sanwang-connectors", "sanwang-api"
JOBS = (PROCESSOR, CONNECTORS, API)


def targets_dir(settings: HubSettings) -> Path:
    return settings.home.resolve() / "prometheus" / "targets"


def serve_metrics(settings: HubSettings, job: str, port: int, given: bool) -> int:
    """Serve this process's /metrics and register it; returns the port it serves on."""
    try:
        server, _ = start_http_server(port, addr=settings.metrics_host)
    except OSError as error:
        if given:
            raise ConfigurationError(f"metrics port {settings.metrics_host}:{port} is taken "
                                     f"({error.strerror}): give a free one") from None
        server, _ = start_http_server(0, addr=settings.metrics_host)
    served = server.server_port
    register(settings, job, settings.metrics_host, served)
    return served


def live_targets(settings: HubSettings, job: str) -> list[Path]:
    """The target files of `job`'s processes on this machine that are still running."""
    return [path for path in targets_dir(settings).glob(f"{job}-*.json")
            if is_alive(int(path.stem.rpartition("-")[2]))]


def register(settings: HubSettings, job: str, host: str, port: int) -> Path:
    """Write this process's target file (and remove those of processes gone)."""
    folder = targets_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        pid = stale.stem.rpartition("-")[2]
        if pid.isdigit() and not is_alive(int(pid)):
            stale.unlink(missing_ok=True)
    address = "127.0.0.1" if host in ("", "0.0.0.0") else host
    path = folder / f"{job}-{os.getpid()}.json"
    partial = path.with_suffix(".part")  # Prometheus reads *.json only: never a half file
    partial.write_text(json.dumps([{"targets": [f"{address}:{port}"],
                                    "labels": {"pid": str(os.getpid())}}]))
    partial.replace(path)
    stopping.on_stop(lambda: path.unlink(missing_ok=True))
    return path
