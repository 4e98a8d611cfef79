"""`up` is idempotent, `status` gives the services' own versions, `down` leaves nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from deploy.kafka_broker import KAFKA_VERSION
from deploy.postgres import cluster_dir
from deploy.private_stack import private_settings, settings_env


def _sanwang(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _processes_under(home: Path) -> list[str]:
    """Command lines of live processes that mention this state directory."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(home) in text and "pytest" not in text:
            found.append(text)
    return found


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_twice_status_and_down(tmp_path: Path) -> None:
    settings = private_settings(tmp_path / "home")
    env = settings_env(settings)
    first = _sanwang(env, "up")
    assert first.returncode == 0, first.stderr
    try:
        assert "Kafka: started" in first.stdout
        pid_files = sorted((settings.home).rglob("*.pid"))
        pids = {p: p.read_text() for p in pid_files}

        second = _sanwang(env, "up")
        assert second.returncode == 0, second.stderr
        assert "Kafka: already running" in second.stdout
        assert "PostgreSQL: already running" in second.stdout
        assert "Prometheus: already running" in second.stdout
        assert "applied migrations" not in second.stdout
        assert {p: p.read_text() for p in pid_files} == pids

        status = _sanwang(env, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        components = {c["name"]: c for c in json.loads(status.stdout)["components"]}
        assert components["kafka"]["version"] == KAFKA_VERSION
        assert components["kafka"]["endpoint"] == f"127.0.0.1:{settings.kafka_port}"
        assert components["postgresql"]["version"].split()[0][:2].isdigit()
        assert components["prometheus"]["version"][0].isdigit()
        assert all(c["healthy"] and c["managed"] == "local" for c in components.values())
        roles = json.loads(status.stdout)["database_roles"]
        assert "password=" not in status.stdout
        analyst = subprocess.run(["psql", roles["sanwang_analyst"], "-Atc",
                                  "SELECT current_user"], capture_output=True, text=True,
                                 timeout=30)  # what the README tells an analyst to run
        assert analyst.stdout.strip() == "sanwang_analyst", analyst.stderr
    finally:
        stopped = _sanwang(env, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert _processes_under(settings.home.resolve()) == []
    assert _processes_under(cluster_dir(settings)) == []
    ports = [settings.kafka_port, settings.kafka_controller_port, settings.kafka_jolokia_port,
             settings.postgres_port, settings.prometheus_port]
    assert [p for p in ports if _listening(p)] == []

    after = _sanwang(env, "status", "--json")
    assert after.returncode == 1
    assert not any(c["healthy"] for c in json.loads(after.stdout)["components"])
    shutil.rmtree(cluster_dir(settings), ignore_errors=True)
