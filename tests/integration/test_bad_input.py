"""Damaged files and push bodies against the real broker and processor: every bad record is
dead-lettered or rejected with a reason naming its field, every good record arrives, nothing
stops (the corpus is built in tmp_path by tests/bad_input_corpus.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from connectors.drop_folder import DropFolder, take_new_files
from connectors.file_backfill import backfill_file, open_publish_path, source_for
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.topics import dead_letter_topic, raw_topic
from streams.lag import wait_for_processor
from tests.bad_input_corpus import (
    BAD_BODIES,
    FILES,
    Corpus,
    build_file,
    build_large_file,
    push_body,
    push_items,
)
from tests.integration.conftest import landed_events, query
from tests.integration.kafka_topics import message_count, read_data, read_topic
from tests.integration.test_live_sources import push_endpoint  # noqa: F401 (a fixture)
from tests.samples import SAMPLE, header

FIELD_REASONS = {"mapping", "schema", "push"}  # the error names the field it is about


def _named_field(error: str, columns: set[str]) -> bool:
    """Whether a mapping or schema error starts with a column name or an event path."""
    head = error.split(":", 1)[0]
    return head in columns or head.startswith("event") or head.startswith("data.")


def _columns(department: str) -> set[str]:
    return set(header(department))


def _check_file(hub: HubSettings, department: str, corpus: Corpus, letters: list[dict]) -> None:
    """One dead letter per damaged line with an accepted reason, naming the field when the
    damage is in one; every good record in the raw topic exactly once."""
    mine = {letter["origin"]["line"]: letter for letter in letters
            if letter["department"] == department}
    assert set(mine) == set(corpus.bad), {n: corpus.bad.get(n) for n in set(mine) ^ set(
        corpus.bad)}
    for number, planted in corpus.bad.items():
        letter = mine[number]
        assert letter["reason"] in planted.reasons, (planted.label, letter["reason"],
                                                     letter["error"][:200])
        assert letter["error"] and letter["origin"]["file"] == corpus.path.name
        if letter["reason"] in FIELD_REASONS:
            assert _named_field(letter["error"], _columns(department)), letter["error"][:200]
    subjects = [e["subject"] for e in read_topic(hub, raw_topic(hub.topic_prefix, department))]
    assert sorted(subjects) == sorted(corpus.good_ids)


@pytest.mark.parametrize("department", list(FILES))
def test_a_damaged_export_dead_letters_each_bad_line_and_delivers_every_good_one(
        hub: HubSettings, department: str, tmp_path: Path) -> None:
    corpus = build_file(department, tmp_path)
    tally = backfill_file(hub, department, corpus.path, progress=False)
    assert tally.reconciles and tally.published == len(corpus.good_ids)
    assert sum(tally.dead_lettered.values()) == len(corpus.bad)
    _check_file(hub, department, corpus, read_data(hub, dead_letter_topic(hub.topic_prefix)))
    print(f"\n{department}: bad inputs {len(corpus.bad)}, records checked "
          f"{tally.read}, good {len(corpus.good_ids)}, lost 0")


def test_push_answers_each_item_and_refuses_unreadable_bodies(
        hub: HubSettings, push_endpoint: tuple[str, dict[str, str]]) -> None:  # noqa: F811
    url, tokens = push_endpoint
    auth = {"Authorization": f"Bearer {tokens['social_security']}",
            "Content-Type": "application/json"}
    for label, body in BAD_BODIES.items():
        answer = httpx.post(url, content=body, headers=auth, timeout=60)
        assert answer.status_code == 400, (label, answer.text[:200])
    huge = httpx.post(url, content=b"[" + b'{"serial": "X"},' * (1 << 20) + b"{}]",
                      headers=auth, timeout=120)
    assert huge.status_code == 413, huge.text[:200]
    items, bad, _ = push_items()
    answer = httpx.post(url, content=push_body(items), headers=auth, timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    results = answer.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    rejected = {r["index"]: r["reason"] for r in results if r["status"] == "rejected"}
    assert set(rejected) == set(bad)
    for index, field in bad.items():
        assert field in rejected[index], (index, rejected[index][:200])
    good = [item["serial"] for i, item in enumerate(items) if i not in bad]
    stored = read_topic(hub, raw_topic(hub.topic_prefix, "social_security"))
    assert sorted(e["subject"] for e in stored) == sorted(good)
    letters = read_data(hub, dead_letter_topic(hub.topic_prefix))
    assert sorted(letter["origin"]["index"] for letter in letters) == sorted(bad)
    assert httpx.post(url, json=items[0], headers=auth).json()["accepted"] == 1  # still serving
    print(f"\npush: bad bodies {len(BAD_BODIES) + 1}, bad items {len(bad)}, records checked "
          f"{len(items)}, good {len(good)}, lost 0")


def test_the_processor_stores_every_good_record_and_injections_verbatim(
        hub: HubSettings, processor: subprocess.Popen, tmp_path: Path,
        push_endpoint: tuple[str, dict[str, str]]) -> None:  # noqa: F811
    good, injected = 0, {}
    for department in FILES:
        corpus = build_file(department, tmp_path)
        assert backfill_file(hub, department, corpus.path, progress=False).reconciles
        good += len(corpus.good_ids)
        injected.update({(department, rid): text for rid, text in corpus.injected.items()})
    url, tokens = push_endpoint
    items, bad, pushed_injections = push_items()
    auth = {"Authorization": f"Bearer {tokens['social_security']}"}
    assert httpx.post(url, content=push_body(items), headers=auth, timeout=120).status_code == 200
    good += len(items) - len(bad)
    injected.update({("social_security", rid): t for rid, t in pushed_injections.items()})
    wait_for_processor(hub, timeout=300)

    assert query(hub, "SELECT count(*) FROM hub.events")[0][0] == good
    assert query(hub, "SELECT count(*) FROM hub.source_records")[0][0] == good
    landed = landed_events(hub, "record_id LIKE 'INJ%' OR record_id LIKE 'PUSHINJ%'")
    stored = {(e["source"].rsplit("/", 1)[-1], e["subject"]): e["data"]["raw"]
              for e in landed.values()}
    assert set(stored) == set(injected)
    for key, text in injected.items():
        assert text in stored[key].values()
    assert query(hub, "SELECT count(*) FROM hub.residents")[0][0] > 0  # not dropped
    assert processor.poll() is None
    print(f"\nprocessor: records stored {good} of {good}, injections verbatim {len(injected)}")


def test_a_million_row_export_with_known_damage_publishes_every_good_row(
        hub: HubSettings, tmp_path: Path) -> None:
    """1,000,000 civil affairs rows, every 10,000th damaged, through read, map, validate and
    the real broker (the processor's merge at ~300 records/s is the performance issue's)."""
    rows = 1_000_000
    path = tmp_path / "civil_affairs.csv"
    good, expected = build_large_file(path, rows, bad_every=10_000)
    started = time.monotonic()
    tally = backfill_file(hub, "civil_affairs", path, progress=False)
    seconds = time.monotonic() - started
    assert (tally.read, tally.published, tally.dead_lettered) == (rows, good, expected)
    assert message_count(hub, raw_topic(hub.topic_prefix, "civil_affairs")) == good
    assert message_count(hub, dead_letter_topic(hub.topic_prefix)) == rows - good
    print(f"\nlarge file: records checked {rows}, bad {rows - good}, published {good}, lost 0,"
          f" in {seconds:.0f} s")


def _broken_xlsx(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 not really a zip")


def _wrong_header_xlsx(path: Path) -> None:
    book = Workbook()
    book.active.append(["业务流水号", "something else"])
    book.save(path)


def test_unreadable_dropped_files_are_dead_lettered_whole_and_the_watch_goes_on(
        hub: HubSettings, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    sample = (SAMPLE / "civil_affairs.csv").read_bytes()
    (folder / "1-utf16.csv").write_bytes(sample.decode("utf-8").encode("utf-16"))
    (folder / "2-gb18030.csv").write_bytes(sample.decode("utf-8").encode("gb18030"))
    _broken_xlsx(folder / "3-broken.xlsx")
    _wrong_header_xlsx(folder / "4-header.xlsx")
    (folder / "5-good.csv").write_bytes(sample)
    checkpoints, publisher = open_publish_path(hub, "civil_affairs")
    try:
        drop = DropFolder(folder, checkpoints, publisher.destination)
        done = dict(take_new_files(drop, lambda p: source_for("civil_affairs", p), publisher,
                                   checkpoints))
        assert take_new_files(drop, lambda p: source_for("civil_affairs", p), publisher,
                              checkpoints) == []
    finally:
        publisher.close()
    assert sorted(done) == sorted(p.name for p in folder.iterdir())
    refused = [name for name, tally in done.items() if tally.dead_lettered == {"file": 1}]
    assert sorted(refused) == ["1-utf16.csv", "2-gb18030.csv", "3-broken.xlsx", "4-header.xlsx"]
    letters = [x for x in read_data(hub, dead_letter_topic(hub.topic_prefix))
               if x["reason"] == "file"]
    assert sorted(x["origin"]["file"] for x in letters) == refused
    assert all(x["error"] for x in letters)
    assert done["5-good.csv"].published > 0

    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((folder / "1-utf16.csv").read_bytes())
    cli = subprocess.run([sys.executable, "-m", "cli.main", "connect", "civil-affairs", "--file",
                          str(utf16), "--no-progress"], env=settings_env(hub),
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and "header line is not utf-8" in cli.stderr, cli.stderr
