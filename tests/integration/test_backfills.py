"""Every department's export through the real broker: all records arrive as valid events, a
damaged copy dead-letters exactly its damaged records, and a kill -9 loses nothing."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from connectors.file_backfill import backfill_file
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.registry import validation_errors
from schemas.topics import dead_letter_topic, raw_topic
from tests.integration.kafka_topics import read_data, read_topic
from tests.samples import SAMPLE

EXPORTS = {  # department: (sample file, its encoding, CLI name)
    "police": ("police_population.csv", "gb18030", "police"),
    "civil_affairs": ("civil_affairs.csv", "utf-8-sig", "civil-affairs"),
    "social_security": ("social_security.jsonl", "utf-8", "social-security"),
}


def _record_ids(department: str, path: Path) -> list[str]:
    name, encoding, _ = EXPORTS[department]
    lines = [line for line in path.read_bytes().decode(encoding).splitlines() if line.strip()]
    if department == "social_security":
        return [json.loads(line)["serial"] for line in lines]
    return [line.split(",", 1)[0] for line in lines[1:]]


@pytest.mark.parametrize("department", list(EXPORTS))
def test_every_sample_record_arrives_as_a_valid_event(hub: HubSettings, department: str) -> None:
    path = SAMPLE / EXPORTS[department][0]
    expected = _record_ids(department, path)
    tally = backfill_file(hub, department, path, progress=False)
    assert (tally.read, tally.published, tally.dead_lettered) == (len(expected), len(expected), {})
    events = read_topic(hub, raw_topic(hub.topic_prefix, department))
    assert sorted(e["subject"] for e in events) == sorted(expected)
    assert [validation_errors(e) for e in events if validation_errors(e)] == []
    assert all(e["data"]["raw"] and e["data"]["origin"]["file"] == path.name for e in events)


def _damage(department: str, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A copy of the sample with planted damage, and the dead letters it must give by reason."""
    name, encoding, _ = EXPORTS[department]
    lines = (SAMPLE / name).read_bytes().decode(encoding).splitlines()
    head, body = (lines[:1], lines[1:]) if department != "social_security" else ([], lines)
    file_encoding = "gb18030" if department == "police" else "utf-8"
    rows = [line.encode(file_encoding) for line in body]
    big = "x" * (10 * 1024 * 1024)
    if department == "social_security":
        rows[3] = rows[3][: len(rows[3]) // 2]                      # truncated line: broken JSON
        rows[7] = b"\xff\xfe" + rows[7]                             # wrong encoding
        rows[9] = b"[1, 2]"                                         # JSON, but not an object
        rows[11] = rows[11].replace(b'"aac006": "', b'"aac006": "99')  # impossible date
        rows.insert(12, json.dumps({"serial": "RS-HUGE", "note": big}).encode())
        expected = {"json": 1, "encoding": 1, "not_object": 1, "mapping": 1, "oversized": 1}
    else:
        rows[3] = rows[3].rsplit(b",", 3)[0]                        # truncated line
        rows[7] = b"\xff\xfe" + rows[7]                             # wrong encoding
        rows[11] = rows[11].replace(rows[11].split(b",")[0], b"", 1)  # missing record id
        rows.insert(12, rows[0] + big.encode())                     # a 10 MB field
        expected = {"column_count": 1, "encoding": 1, "mapping": 1, "oversized": 1}
    path = tmp_path / name
    prefix = b"\xef\xbb\xbf" if department == "civil_affairs" else b""
    path.write_bytes(prefix + b"\n".join([h.encode(file_encoding) for h in head] + rows) + b"\n")
    return path, expected


@pytest.mark.parametrize("department", list(EXPORTS))
def test_a_damaged_copy_dead_letters_exactly_the_damaged_records(
        hub: HubSettings, department: str, tmp_path: Path) -> None:
    path, expected = _damage(department, tmp_path)
    tally = backfill_file(hub, department, path, progress=False)
    assert tally.dead_lettered == expected
    assert tally.reconciles
    letters = read_data(hub, dead_letter_topic(hub.topic_prefix))
    assert Counter(letter["reason"] for letter in letters) == Counter(expected)
    for letter in letters:
        assert letter["department"] == department and letter["error"]
        assert letter["origin"]["file"] == path.name and letter["origin"]["line"] > 0
        assert base64.b64decode(letter["raw_base64"])
    good = len(_record_ids(department, SAMPLE / EXPORTS[department][0])) - sum(
        n for r, n in expected.items() if r != "oversized")
    assert tally.published == good
    assert len(read_topic(hub, raw_topic(hub.topic_prefix, department))) == good


def _big_copy(department: str, path: Path, rows: int) -> set[str]:
    """The sample's records over and over, each with a record id of its own."""
    name, encoding, _ = EXPORTS[department]
    lines = [line for line in (SAMPLE / name).read_bytes().decode(encoding).splitlines()
             if line.strip()]
    ids, out = set(), []
    if department == "social_security":
        for i in range(rows):
            record = json.loads(lines[i % len(lines)])
            record["serial"] = f"RS{i:016d}"
            ids.add(record["serial"])
            out.append(json.dumps(record, ensure_ascii=False))
    else:
        out.append(lines[0])
        body = lines[1:]
        for i in range(rows):
            record_id = f"{body[0][:2]}{i:016d}"
            ids.add(record_id)
            row = body[i % len(body)]
            out.append(record_id + row[row.index(","):])
    path.write_bytes(("\n".join(out) + "\n").encode(encoding))
    return ids


@pytest.mark.parametrize("department", list(EXPORTS))
def test_a_killed_backfill_resumes_and_loses_nothing(
        hub: HubSettings, department: str, tmp_path: Path) -> None:
    rows = 30_000
    path = tmp_path / EXPORTS[department][0]
    expected = _big_copy(department, path, rows)
    argv = [sys.executable, "-m", "cli.main", "connect", EXPORTS[department][2], "--file",
            str(path), "--no-progress"]
    env = settings_env(hub)
    checkpoints = hub.home / "checkpoints"
    before = set(checkpoints.glob("*.json"))
    first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while set(checkpoints.glob("*.json")) == before and time.monotonic() < deadline:
        assert first.poll() is None, "the backfill ended before it could be killed"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "resumed at" in second.stdout
    assert f"read {rows} = published {rows} + dead-lettered 0" in second.stdout
    in_topic = {e["subject"] for e in read_topic(hub, raw_topic(hub.topic_prefix, department))}
    assert in_topic == expected
    assert set(checkpoints.glob("*.json")) == before, "a finished backfill leaves no progress"
