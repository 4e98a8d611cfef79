"""The alert rules pass promtool's checks and their own unit tests (deploy/prometheus/)."""

import shutil
import subprocess
from pathlib import Path

from deploy import prometheus
from deploy.settings import HubSettings

RULES = Path(prometheus.__file__).parent / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    assert shutil.which("promtool"), "promtool comes with Debian's prometheus package"
    return subprocess.run(["promtool", *args], cwd=RULES, capture_output=True, text=True,
                          timeout=60)


def test_rules_are_valid() -> None:
    done = _promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 rules found" in done.stdout


def test_rules_unit_tests_pass() -> None:
    done = _promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_local_prometheus_loads_the_rules(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus.scrape_config(HubSettings()))
    assert str(RULES / "alerts.yml") in config.read_text()
    done = _promtool("check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
