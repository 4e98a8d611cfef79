"""`sanwang demo`, the README's first command, on a stack of its own (a small city, a short live
phase): every department backfilled and live, the summary with its scores and the tasks grid
reports opened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from deploy.postgres import cluster_dir
from deploy.private_stack import private_settings, settings_env
from schemas.departments import all_departments


def test_the_demo_runs_the_whole_flow_and_reports_it(tmp_path: Path) -> None:
    settings = private_settings(tmp_path / "home")
    env = settings_env(settings)
    try:
        demo = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--persons", "300",
                               "--live-seconds", "5"], env=env, capture_output=True, text=True,
                              timeout=900)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        city = re.search(r"Generated a city of \d+ people \(seed \d+\) in (\S+)", demo.stdout)
        assert city and Path(city.group(1)).is_relative_to(settings.home.resolve()), demo.stdout
        sent = re.search(r"sent live: (.*)", demo.stdout)
        assert sent, demo.stdout
        counts = dict(part.split() for part in sent.group(1).split(", "))
        assert set(counts) == {d for d, declared in all_departments().items()
                               if declared.live.kind != "query_api"}  # grid: reports, below
        assert all(int(n) > 0 for n in counts.values()), counts
        scores = re.search(r"precision (\d\.\d+), recall (\d\.\d+)", demo.stdout)
        assert scores and float(scores.group(1)) > 0.99 and float(scores.group(2)) > 0.99
        assert "6/6 Summary" in demo.stdout and "dead-lettered 0" in demo.stdout
        opened = re.search(r"verification tasks grid reports opened: police \w+ [1-9]",
                           demo.stdout)
        assert opened, demo.stdout[-2000:]
    finally:
        subprocess.run([sys.executable, "-m", "cli.main", "down"], env=env, capture_output=True,
                       timeout=300)
        shutil.rmtree(cluster_dir(settings), ignore_errors=True)
