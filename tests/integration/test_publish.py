"""Other departments publish their own canonical events through the same checked path."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from connectors.publish_api import publish_events
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.topics import dead_letter_topic, raw_topic
from tests.integration.kafka_topics import read_data, read_topic

EXAMPLES = HubSettings().departments_dir / "examples" / "hub.police.population_change.v1.jsonl"


def test_valid_events_are_published_and_bad_ones_refused_with_reasons(hub: HubSettings) -> None:
    events = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    bad_sex = copy.deepcopy(events[0])
    bad_sex["data"]["parsed"]["sex"] = "unknown"
    report = publish_events(hub, "police", [*events, bad_sex, "text", {**events[1],
                                            "source": "/departments/civil_affairs"}])
    assert report.accepted == [e["id"] for e in events]
    assert [(i, reason.split(":")[0]) for i, reason in report.rejected] == [
        (5, "data.parsed.sex"), (6, "not an event object but str"), (7, "source")]
    assert len(read_topic(hub, raw_topic(hub.topic_prefix, "police"))) == 5
    assert [d["reason"] for d in read_data(hub, dead_letter_topic(hub.topic_prefix))] == [
        "publish"] * 3


def test_the_cli_reads_json_lines_from_stdin(hub: HubSettings) -> None:
    done = subprocess.run([sys.executable, "-m", "cli.main", "publish", "police"],
                          input=EXAMPLES.read_text(encoding="utf-8") + "{broken\n",
                          env=settings_env(hub), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "published 5, refused 1" in done.stdout
    assert "event 5: refused" in done.stderr
