"""The sample city streamed through the real broker and processor: merged as the truth says."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.id_keys import load_keyring, write_keyring
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.topics import changes_topic, findings_topic
from streams.evaluation import read_truth, store_scores
from streams.id_protection import Keyring, keyring_from_json, keyring_to_json, mask, open_sealed
from streams.indicator_store import refresh_indicators, this_month
from streams.lag import wait_for_processor
from tests.integration.conftest import all_relayed, hub_settings, query
from tests.integration.id_scan import clear_id_numbers_in_store, id_numbers_in, sealing_key_ids
from tests.integration.kafka_topics import read_data
from tests.samples import EXPORTS as FIVE_EXPORTS
from tests.samples import SAMPLE, SAMPLE5, sample_events

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


@pytest.fixture
def hub(stack: HubSettings) -> HubSettings:
    """This test's topics and database; its processor refreshes the indicators every 2 s."""
    return hub_settings(stack).model_copy(update={"indicator_refresh_seconds": 2})


def test_the_sample_city_merges_as_the_truth_says(hub: HubSettings, processor: subprocess.Popen,
                                                  tmp_path: Path) -> None:
    loaded = subprocess.run([sys.executable, "-m", "cli.main", "grids", str(SAMPLE / "grids.csv")],
                            env=settings_env(hub), capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0 and "360 grids loaded" in loaded.stdout, loaded.stderr
    for department, name in EXPORTS:
        assert backfill_file(hub, department, SAMPLE / name, progress=False).reconciles
    wait_for_processor(hub, timeout=300)
    _the_processor_keeps_the_indicators_current(hub)
    scores = store_scores(hub, read_truth(SAMPLE / "truth.csv"))
    assert scores.records == 949
    assert scores.precision >= 0.999 and scores.recall >= 0.998, scores
    residents = query(hub, "SELECT count(*) FROM hub.residents")[0][0]
    assert residents == len((SAMPLE / "persons.csv").read_text().splitlines()) - 1

    shown = subprocess.run([sys.executable, "-m", "cli.main", "eval", str(SAMPLE / "truth.csv")],
                           env=settings_env(hub), capture_output=True, text=True, timeout=60)
    assert f"precision {scores.precision:.4f}  recall {scores.recall:.4f}" in shown.stdout

    current = {r for (r,) in query(hub, "SELECT resident_id FROM hub.residents")}
    deadline = time.monotonic() + 30  # the change feed is relayed from the outbox after commit
    while True:
        changes = read_data(hub, changes_topic(hub.topic_prefix))
        if {c["resident_id"] for c in changes} >= current or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {c["resident_id"] for c in changes} >= current
    assert {c["change"] for c in changes} >= {"created"}
    assert processor.poll() is None
    _living_residents_are_in_their_grid(hub)
    _planted_findings_are_found_and_no_others(hub, SAMPLE)
    _no_id_number_is_stored_in_clear(hub)
    _a_rotation_seals_everything_under_the_new_key(hub, tmp_path)


def _the_processor_keeps_the_indicators_current(hub: HubSettings) -> None:
    """Once the merge is done, a refresh that saw the whole change feed, and indicators equal
    to what a refresh computes now."""
    deadline = time.monotonic() + 60
    while query(hub, "SELECT count(*) FROM hub.change_outbox") != query(
            hub, "SELECT changes_seen FROM hub.indicator_refresh"):
        assert time.monotonic() < deadline, "the processor did not refresh the indicators"
        time.sleep(0.5)
    read = "SELECT level, unit_code, indicator, month, value FROM hub.indicators"
    conn = psycopg2.connect(postgres.dsn(hub))
    try:
        with conn.cursor() as cur:
            cur.execute(read)
            kept = set(cur.fetchall())
            refresh_indicators(cur, this_month(), hub.indicator_months, hub.small_cell_k)
            cur.execute(read)
            assert set(cur.fetchall()) == kept
        conn.rollback()
    finally:
        conn.close()
    assert len({k for k in kept if k[2] == "population"}) > 100


def _living_residents_are_in_their_grid(hub: HubSettings) -> None:
    """>= 99 % of living residents in the grid persons.csv gives; none guessed wrongly."""
    truth = read_truth(SAMPLE / "truth.csv")
    with open(SAMPLE / "persons.csv", encoding="utf-8-sig", newline="") as file:
        persons = {row["person"]: row for row in csv.DictReader(file)}
    placed = {truth[ref]: grid for ref, grid in query(
        hub, "SELECT l.ref, r.grid_code FROM hub.source_links l JOIN hub.residents r"
             " USING (resident_id)")}
    living = [p for p, row in persons.items() if row["deceased"].strip() == "0"]
    right = sum(placed.get(p) == persons[p]["grid"] for p in living)
    wrong = sum(placed.get(p) not in (None, persons[p]["grid"]) for p in living)
    assert right / len(living) >= 0.99 and wrong == 0, (right, wrong, len(living))


def test_the_five_department_sample_merges_and_finds_what_it_plants(
        hub: HubSettings, processor: subprocess.Popen) -> None:
    """All five departments through the broker and the processor (issue 16's sample5)."""
    loaded = subprocess.run([sys.executable, "-m", "cli.main", "grids",
                             str(SAMPLE5 / "grids.csv")], env=settings_env(hub),
                            capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    for department, name in FIVE_EXPORTS.items():
        assert backfill_file(hub, department, SAMPLE5 / name, progress=False).reconciles
    wait_for_processor(hub, timeout=300)
    scores = store_scores(hub, read_truth(SAMPLE5 / "truth.csv"))
    assert scores.records == len((SAMPLE5 / "truth.csv").read_text().splitlines()) - 1
    assert scores.precision >= 0.999 and scores.recall >= 0.998, scores
    sources = {s for (s,) in query(hub, "SELECT DISTINCT source FROM hub.source_links")}
    assert sources == set(FIVE_EXPORTS)
    _planted_findings_are_found_and_no_others(hub, SAMPLE5)
    assert processor.poll() is None


def _planted_findings_are_found_and_no_others(hub: HubSettings, city: Path) -> None:
    truth = read_truth(city / "truth.csv")
    with open(city / "findings.csv", encoding="utf-8-sig", newline="") as file:
        planted = {(row["kind"], row["person"]) for row in csv.DictReader(file)}
    rows = query(hub, "SELECT f.kind, l.ref, f.evidence FROM hub.findings f"
                      " JOIN hub.source_links l USING (resident_id)")
    found = {(kind, truth[ref]) for kind, ref, _ in rows if kind != "elderly_living_alone"}
    assert found == planted
    assert all(evidence["records"] for _, _, evidence in rows)
    elderly = query(hub, "SELECT r.birth_date FROM hub.findings f JOIN hub.residents r"
                         " USING (resident_id) WHERE f.kind = 'elderly_living_alone'")
    assert all(int(birth[:4]) <= 1946 for (birth,) in elderly)
    all_relayed(hub)  # the relay publishes the stored findings on its own timer
    published = read_data(hub, findings_topic(hub.topic_prefix))
    assert {(m["kind"], m["resident_id"]) for m in published} >= {
        (kind, resident) for kind, resident in query(
            hub, "SELECT kind, resident_id FROM hub.resident_findings")}


def _no_id_number_is_stored_in_clear(hub: HubSettings) -> None:
    """Every table and column of the hub's database, scanned; the sample is full of numbers."""
    assert len(id_numbers_in(json.dumps(sample_events(), ensure_ascii=False))) > 350
    assert clear_id_numbers_in_store(hub) == {}
    assert sealing_key_ids(hub) == {"k1"}
    number, resident = _someone(hub)
    shown = _sanwang(hub, "resident", number)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["resident_id"] == resident and number not in shown.stdout


def _a_rotation_seals_everything_under_the_new_key(hub: HubSettings, tmp: Path) -> None:
    """`ids add-key`, `ids rekey` (on a copy of the session's keyring): afterwards the new key
    alone opens the whole store."""
    copy = tmp / "id-keyring.json"
    write_keyring(copy, load_keyring(hub))
    rotating = {"SANWANG_ID_KEYRING_FILE": str(copy)}
    assert _sanwang(hub, "ids", "add-key", **rotating).returncode == 0
    rekeyed = _sanwang(hub, "ids", "rekey", **rotating)
    assert rekeyed.returncode == 0 and "events: 0 rows" not in rekeyed.stdout, rekeyed.stdout
    assert sealing_key_ids(hub) == {"k2"} and clear_id_numbers_in_store(hub) == {}
    again = _sanwang(hub, "ids", "rekey", **rotating).stdout
    assert all(line.split(": ")[1].startswith("0 rows") for line in again.splitlines()), again
    keyring = keyring_from_json(copy.read_text())
    only_new = Keyring("k2", {"k2": keyring.keys["k2"]}, keyring.lookup_key)
    number, resident = _someone(hub, only_new)
    shown = _sanwang(hub, "resident", number, "--as-of", "2030-01-01",
                     SANWANG_ID_KEYRING=keyring_to_json(only_new))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["resident_id"] == resident
    assert json.loads(shown.stdout)["values"]["id_number"]["value"] == mask(number)


def _someone(hub: HubSettings, keyring: Keyring | None = None) -> tuple[str, str]:
    """A resident's ID number (opened) and resident id."""
    sealed, resident = query(hub, "SELECT id_number_sealed, resident_id FROM hub.residents"
                                  " WHERE id_number_sealed IS NOT NULL"
                                  " ORDER BY resident_id LIMIT 1")[0]
    return open_sealed(keyring or load_keyring(hub), sealed), resident


def _sanwang(hub: HubSettings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args],
                          env={**settings_env(hub), **env}, capture_output=True, text=True,
                          timeout=300)
