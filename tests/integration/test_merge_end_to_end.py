"""The sample city streamed through the real broker and processor: merged as the truth says."""

from __future__ import annotations

import subprocess
import sys
import time

from connectors.file_backfill import backfill_file
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.topics import changes_topic
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor
from tests.integration.conftest import query
from tests.integration.kafka_topics import read_topic
from tests.samples import SAMPLE

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def test_the_sample_city_merges_as_the_truth_says(hub: HubSettings,
                                                  processor: subprocess.Popen) -> None:
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
