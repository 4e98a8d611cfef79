"""kill -9 during a backfill, restart: every record of the file is in the topic."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.settings import HubSettings
from schemas.topics import raw_topic
from tests.integration.conftest import settings_env
from tests.integration.kafka_topics import read_topic
from tests.samples import SAMPLE

ROWS = 30_000


def _big_police_file(path: Path) -> set[str]:
    """The sample's rows over and over, each with a record id of its own."""
    lines = (SAMPLE / "police_population.csv").read_bytes().decode("gb18030").splitlines()
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    ids, out = set(), [header]
    for i in range(ROWS):
        record_id = f"GA{i:016d}"
        ids.add(record_id)
        out.append(record_id + rows[i % len(rows)][rows[i % len(rows)].index(","):])
    path.write_bytes(("\n".join(out) + "\n").encode("gb18030"))
    return ids


def test_killed_backfill_resumes_and_loses_nothing(hub: HubSettings, tmp_path: Path) -> None:
    expected = _big_police_file(tmp_path / "police_big.csv")
    argv = [sys.executable, "-m", "cli.main", "connect", "police", "--file",
            str(tmp_path / "police_big.csv"), "--no-progress"]
    env = settings_env(hub)
    first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = hub.home / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(checkpoints.glob("*.json")) and time.monotonic() < deadline:
        assert first.poll() is None, "the backfill ended before it could be killed"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert any(checkpoints.glob("*.json")), "no progress was saved before the kill"

    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "resumed at" in second.stdout
    assert f"read {ROWS} = published {ROWS} + dead-lettered 0" in second.stdout

    in_topic = {e["subject"] for e in read_topic(hub, raw_topic(hub.topic_prefix, "police"))}
    assert in_topic == expected
    assert not any(checkpoints.glob("*.json")), "a finished backfill leaves no progress behind"
