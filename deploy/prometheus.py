"""The local Prometheus (Debian's package), scraping every hub process `up` knows of."""

from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.error
import urllib.request
from pathlib import Path

from deploy import metrics_targets
from deploy.errors import ServiceError
from deploy.processes import read_pid, start_detached, stop, wait_until
from deploy.settings import HubSettings


def _paths(settings: HubSettings) -> dict[str, Path]:
    base = settings.home.resolve() / "prometheus"
    return {"base": base, "config": base / "prometheus.yml", "data": base / "data",
            "pid": base / "prometheus.pid", "log": base / "prometheus.log"}


ALERT_RULES = Path(__file__).parent / "prometheus" / "alerts.yml"


def hub_jobs(settings: HubSettings) -> dict[str, int]:
    """The hub's scrape jobs and the metrics port each kind of process serves by default (one
    process per host, as in the containers; on one machine each finds a port of its own)."""
    return {metrics_targets.PROCESSOR: settings.processor_metrics_port,
            metrics_targets.CONNECTORS: settings.connector_metrics_port,
            metrics_targets.API: settings.api_port}


def scrape_config(settings: HubSettings) -> str:
    """prometheus.yml: Prometheus itself, every hub process that registered itself in
    $SANWANG_HOME/prometheus/targets (deploy/metrics_targets.py), and the hub's alert rules."""
    folder = metrics_targets.targets_dir(settings)
    lines = ["global:", "  scrape_interval: 5s", "  evaluation_interval: 5s",
             "rule_files:", f"  - {ALERT_RULES}", "scrape_configs:",
             "  - job_name: prometheus", "    static_configs:",
             f"      - targets: ['127.0.0.1:{settings.prometheus_port}']"]
    for job in hub_jobs(settings):
        lines += [f"  - job_name: {job}", "    file_sd_configs:",
                  f"      - files: ['{folder / job}-*.json']", "        refresh_interval: 5s"]
    return "\n".join(lines) + "\n"


def _url(settings: HubSettings, path: str) -> str:
    return f"http://127.0.0.1:{settings.prometheus_port}{path}"


def start(settings: HubSettings, timeout: float = 30.0) -> bool:
    """Start Prometheus unless it runs (then bring its config up to date); True if this call
    started it."""
    paths = _paths(settings)
    config = scrape_config(settings)
    pid = read_pid(paths["pid"])
    if pid is not None:
        if not paths["config"].exists() or paths["config"].read_text() != config:
            paths["config"].write_text(config)  # e.g. written by an older hub: reload it
            os.kill(pid, signal.SIGHUP)
        return False
    binary = shutil.which("prometheus")
    if binary is None:
        raise ServiceError("Prometheus not found: apt-get install prometheus")
    paths["data"].mkdir(parents=True, exist_ok=True)
    metrics_targets.targets_dir(settings).mkdir(parents=True, exist_ok=True)
    paths["config"].write_text(config)
    argv = [binary, f"--config.file={paths['config']}", f"--storage.tsdb.path={paths['data']}",
            f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
            "--storage.tsdb.retention.time=15d"]
    start_detached(argv, paths["pid"], paths["log"])
    wait_until(lambda: is_healthy(settings), timeout, "Prometheus",
               alive=lambda: read_pid(paths["pid"]) is not None, log_file=paths["log"])
    return True


def stop_local(settings: HubSettings) -> bool:
    return stop(_paths(settings)["pid"])


def is_running_locally(settings: HubSettings) -> bool:
    return read_pid(_paths(settings)["pid"]) is not None


def is_healthy(settings: HubSettings) -> bool:
    try:
        with urllib.request.urlopen(_url(settings, "/-/ready"), timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def running_version(settings: HubSettings) -> str:
    """The version from the running server's build info."""
    with urllib.request.urlopen(_url(settings, "/api/v1/status/buildinfo"), timeout=5) as resp:
        return str(json.load(resp)["data"]["version"])


def endpoint(settings: HubSettings) -> str:
    return _url(settings, "")
