"""The local Prometheus (Debian's package), scraping every hub process `up` knows of."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from deploy.processes import ServiceError, read_pid, start_detached, stop, wait_until
from deploy.settings import HubSettings


def _paths(settings: HubSettings) -> dict[str, Path]:
    base = settings.home.resolve() / "prometheus"
    return {"base": base, "config": base / "prometheus.yml", "data": base / "data",
            "pid": base / "prometheus.pid", "log": base / "prometheus.log"}


ALERT_RULES = Path(__file__).parent / "prometheus" / "alerts.yml"


def scrape_config(settings: HubSettings) -> str:
    """prometheus.yml: the hub's processor, connectors and API by their metrics ports, and the
    hub's alert rules."""
    jobs = {
        "prometheus": settings.prometheus_port,
        "sanwang-processor": settings.processor_metrics_port,
        "sanwang-connectors": settings.connector_metrics_port,
        "sanwang-api": settings.api_port,
    }
    lines = ["global:", "  scrape_interval: 5s", "  evaluation_interval: 5s",
             "rule_files:", f"  - {ALERT_RULES}", "scrape_configs:"]
    for job, port in jobs.items():
        lines += [f"  - job_name: {job}", "    static_configs:",
                  f"      - targets: ['127.0.0.1:{port}']"]
    return "\n".join(lines) + "\n"


def _url(settings: HubSettings, path: str) -> str:
    return f"http://127.0.0.1:{settings.prometheus_port}{path}"


def start(settings: HubSettings, timeout: float = 30.0) -> bool:
    """Start Prometheus unless it runs; True if this call started it."""
    paths = _paths(settings)
    if read_pid(paths["pid"]) is not None:
        return False
    binary = shutil.which("prometheus")
    if binary is None:
        raise ServiceError("Prometheus not found: apt-get install prometheus")
    paths["data"].mkdir(parents=True, exist_ok=True)
    paths["config"].write_text(scrape_config(settings))
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
