"""The live feeds against the real stack: police table changes, the drop folder, HTTP push."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.drop_folder import DropFolder, take_new_files
from connectors.file_backfill import open_publish_path, source_for
from connectors.push_api import create_push_app
from connectors.push_tokens import load_tokens
from connectors.table_cdc import drop_slot
from connectors.table_live import stream_table_changes
from deploy.settings import HubSettings
from schemas.departments import department
from schemas.registry import validation_errors
from schemas.topics import raw_topic
from tests.integration.conftest import run_sql
from tests.integration.kafka_topics import read_topic
from tests.integration.workers import serving
from tests.samples import SAMPLE

INSERT = ("INSERT INTO t_rk_bdjl VALUES (%s, 'R9', '511825195612111903', '沈宇杰', '女', '汉族', "
          "'1956-12-11', '', '天全县太平村12组53号', NULL, '户籍人口', '户籍登记', '20240501')")


def _wait_for(found: Callable[[], bool], timeout: float) -> float:
    """Seconds until `found()` holds; fails after `timeout`."""
    started = time.monotonic()
    while not found():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_police_rows_inserted_or_corrected_arrive_within_two_seconds(
        hub: HubSettings, police_db: str) -> None:
    topic = raw_topic(hub.topic_prefix, "police")
    slot = f"police_{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    worker = threading.Thread(target=stream_table_changes,
                              args=(hub, department("police"), police_db, stop, slot, slot),
                              daemon=True)
    worker.start()
    try:
        time.sleep(1.0)  # the slot exists once the connector runs; earlier rows are not its job

        def subjects() -> list[str]:
            return [e["subject"] for e in read_topic(hub, topic)]

        run_sql(police_db, (INSERT, ("GA100",)))
        assert _wait_for(lambda: "GA100" in subjects(), 10) < 2.0
        run_sql(police_db, "UPDATE t_rk_bdjl SET xzz = '雅安市雨城区育才路1号', "
                           "gxsj = now() WHERE bdlsh = 'GA100'")
        assert _wait_for(lambda: subjects().count("GA100") == 2, 10) < 2.0
    finally:
        stop.set()
        worker.join(timeout=30)
    events = [e for e in read_topic(hub, topic) if e["subject"] == "GA100"]
    assert len({e["id"] for e in events}) == 2, "a correction is a new event"
    assert events[-1]["data"]["parsed"]["residence_address"] == "雅安市雨城区育才路1号"
    assert all(validation_errors(e) == [] for e in events)
    drop_slot(police_db, slot)


def _take(hub: HubSettings, folder: Path) -> list[str]:
    """One pass of the watcher as a fresh process would make it (new publisher, same store)."""
    checkpoints, publisher = open_publish_path(hub, "civil_affairs")
    try:
        drop = DropFolder(folder, checkpoints, publisher.destination)
        done = take_new_files(drop, lambda p: source_for("civil_affairs", p), publisher,
                              checkpoints)
    finally:
        publisher.close()
    return [name for name, _ in done]


def test_drop_folder_takes_each_finished_file_exactly_once(hub: HubSettings,
                                                           tmp_path: Path) -> None:
    topic = raw_topic(hub.topic_prefix, "civil_affairs")
    folder = tmp_path / "drop"
    folder.mkdir()
    part = folder / "2026-11-27.csv.part"
    shutil.copy(SAMPLE / "civil_affairs.csv", part)
    assert _take(hub, folder) == []
    assert read_topic(hub, topic) == []

    part.rename(folder / "2026-11-27.csv")
    assert _take(hub, folder) == ["2026-11-27.csv"]
    assert len(read_topic(hub, topic)) == 199
    assert _take(hub, folder) == []  # a restart takes nothing again
    shutil.copy(SAMPLE / "civil_affairs.csv", folder / "copy-of-the-same.csv")
    assert _take(hub, folder) == []  # the same content under another name is the same file
    assert len(read_topic(hub, topic)) == 199


@pytest.fixture
def push_endpoint(hub: HubSettings) -> Iterator[tuple[str, dict[str, str]]]:
    """The real push endpoint (uvicorn) on a free port, publishing to the real broker."""
    tokens = load_tokens(hub.home / "secrets" / f"push-{hub.topic_prefix}.json")
    publisher = open_publish_path(hub, "social_security")[1]
    with serving(create_push_app(tokens, {"social_security": publisher})) as url:
        yield f"{url}/push/social-security", tokens
    publisher.close()


def test_push_authenticates_and_answers_each_record(
        hub: HubSettings, push_endpoint: tuple[str, dict[str, str]]) -> None:
    url, tokens = push_endpoint
    lines = (SAMPLE / "social_security.jsonl").read_text(encoding="utf-8").splitlines()
    good = [__import__("json").loads(line) for line in lines[:3]]
    bad = {**good[0], "serial": "RS-BAD", "aac006": "19561332"}

    assert httpx.post(url, json=good[0]).status_code == 401
    assert httpx.post(url, json=good[0], headers={"Authorization": "Bearer nope"}
                      ).status_code == 401
    other = httpx.post(url, json=good[0],
                       headers={"Authorization": f"Bearer {tokens['civil_affairs']}"})
    assert other.status_code == 403

    auth = {"Authorization": f"Bearer {tokens['social_security']}"}
    answer = httpx.post(url, json=[good[0], bad, "not an object", good[1]], headers=auth)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "accepted"]
    assert results[1]["reason"] == "aac006: impossible date '19561332'"
    assert "not an object" in results[2]["reason"]
    single = httpx.post(url, json=good[2], headers=auth).json()
    assert single["accepted"] == 1

    stored = read_topic(hub, raw_topic(hub.topic_prefix, "social_security"))
    assert sorted(e["subject"] for e in stored) == sorted(g["serial"] for g in good)
    assert httpx.post(url, content=b"{broken", headers=auth).status_code == 400
