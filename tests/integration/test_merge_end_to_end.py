"""The sample city streamed through the real broker and processor: merged as the truth says."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

from connectors.file_backfill import backfill_file
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.topics import changes_topic, findings_topic
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor
from tests.integration.conftest import query
from tests.integration.kafka_topics import read_topic
from tests.samples import SAMPLE

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def test_the_sample_city_merges_as_the_truth_says(hub: HubSettings,
                                                  processor: subprocess.Popen) -> None:
    loaded = subprocess.run([sys.executable, "-m", "cli.main", "grids", str(SAMPLE / "grids.csv")],
                            env=settings_env(hub), capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0 and "360 grids loaded" in loaded.stdout, loaded.stderr
    for department, name in EXPORTS:
        assert backfill_file(hub, department, SAMPLE / name, progress=False).reconciles
    wait_for_processor(hub, timeout=300)
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
        changes = read_topic(hub, changes_topic(hub.topic_prefix))
        if {c["resident_id"] for c in changes} >= current or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {c["resident_id"] for c in changes} >= current
    assert {c["change"] for c in changes} >= {"created"}
    assert processor.poll() is None
    _living_residents_are_in_their_grid(hub)
    _planted_findings_are_found_and_no_others(hub)


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


def _planted_findings_are_found_and_no_others(hub: HubSettings) -> None:
    truth = read_truth(SAMPLE / "truth.csv")
    with open(SAMPLE / "findings.csv", encoding="utf-8-sig", newline="") as file:
        planted = {(row["kind"], row["person"]) for row in csv.DictReader(file)}
    rows = query(hub, "SELECT f.kind, l.ref, f.evidence FROM hub.findings f"
                      " JOIN hub.source_links l USING (resident_id)")
    found = {(kind, truth[ref]) for kind, ref, _ in rows if kind != "elderly_living_alone"}
    assert found == planted
    assert all(evidence["records"] for _, _, evidence in rows)
    elderly = query(hub, "SELECT r.birth_date FROM hub.findings f JOIN hub.residents r"
                         " USING (resident_id) WHERE f.kind = 'elderly_living_alone'")
    assert all(int(birth[:4]) <= 1946 for (birth,) in elderly)
    published = read_topic(hub, findings_topic(hub.topic_prefix))
    assert {(m["kind"], m["resident_id"]) for m in published} >= {
        (kind, resident) for kind, resident in query(
            hub, "SELECT kind, resident_id FROM hub.resident_findings")}
