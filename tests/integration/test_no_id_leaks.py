"""No valid resident ID number leaves the store by a side door: after the sample city, bait
records built to be refused with their ID numbers in the wrong places and an API run, the
processes' logs, every /metrics page, the dead letters' reasons and errors and the errors raised
for bad input hold none (the scanner itself is checked in tests/unit/test_id_leaks.py)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.csv_source import read_csv
from connectors.fields import FieldError
from connectors.file_backfill import backfill_file
from connectors.jsonl_source import read_jsonl
from connectors.records import MappingError
from deploy.private_stack import free_port, settings_env
from deploy.settings import HubSettings
from schemas.topics import dead_letter_topic
from streams.lag import wait_for_processor
from tests.id_leaks import id_numbers_in
from tests.integration.api_stack import DEPARTMENTS, api_over_sample
from tests.integration.conftest import clear_id_numbers
from tests.integration.kafka_topics import read_data
from tests.integration.workers import spawn_worker, stop_worker, worker_log
from tests.samples import SAMPLE, encoding, header, mapping

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))
CLI = {"police": "police", "civil_affairs": "civil-affairs",
       "social_security": "social-security"}


def _bait(tmp_path: Path) -> dict[str, Path]:
    """Sample records damaged so that their errors would quote a valid ID number."""
    def csv_copy(name: str, encoding: str, damage: dict[str, str], header: list[str]) -> Path:
        lines = (SAMPLE / name).read_bytes().decode(encoding).splitlines()
        base = next(r.columns for r in read_csv(SAMPLE / name, encoding.removesuffix("-sig"),
                                                header) if id_numbers_in(r.columns[header[2]]))
        number = base[header[2]]
        out = [lines[0]]
        for i, (column, text) in enumerate(damage.items()):
            row = {**base, header[0]: f"BAIT{i}", column: text.format(number)}
            out.append(",".join(_quoted(row[h]) for h in header))
        path = tmp_path / name
        path.write_bytes(("\n".join(out) + "\n").encode(encoding))
        return path

    paths = {
        "police": csv_copy("police_population.csv", "gb18030",
                           {"联系电话": "{}", "出生日期": "{}", "性别": "{}"}, header("police")),
        "civil_affairs": csv_copy("civil_affairs.csv", "utf-8-sig",
                                  {"业务内容": '{{"配偶身份证号": "{}", ', "出生年月": "{}",
                                   "办理日期": "x{}", "联系方式": "{}"},
                                  header("civil_affairs"))}
    record = json.loads((SAMPLE / "social_security.jsonl").read_text().splitlines()[0])
    number = record["aac002"]
    bait = [{**record, "serial": f"BAIT{i}", field: value} for i, (field, value) in enumerate(
        [("aac004", number), ("aac006", number), ("occurred", number), ("phone", number),
         ("payload", number), ("event", number)])]
    paths["social_security"] = tmp_path / "social_security.jsonl"
    paths["social_security"].write_text("\n".join(json.dumps(b, ensure_ascii=False)
                                                  for b in bait) + "\n")
    return paths


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _errors_raised(paths: dict[str, Path]) -> list[str]:
    """The messages of the errors the mappings raise for the bait records."""
    readers = {"police": lambda p: read_csv(p, encoding("police"), header("police")),
               "civil_affairs": lambda p: read_csv(p, encoding("civil_affairs"),
                                                   header("civil_affairs")),
               "social_security": read_jsonl}
    mappings = {name: mapping(name) for name in readers}
    messages = []
    for department, path in paths.items():
        for record in readers[department](path):
            with pytest.raises((MappingError, FieldError)) as raised:
                mappings[department](record.columns, record.origin)
            messages.append(str(raised.value))
    return messages


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv], env=env,
                          capture_output=True, text=True, timeout=300)
    return done.stdout + done.stderr


def _wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def _api_run(stack: HubSettings) -> tuple[str, int]:
    """Lookups found and not, reads by resident, bad parameters; the API's /metrics page."""
    with api_over_sample(stack) as api:
        numbers = sorted(n for n in clear_id_numbers(api.settings).values() if n)[:20]
        who = DEPARTMENTS["social_security"]
        calls = 0
        for number in numbers:
            for params in ({"id_number": number, "purpose": "待遇核查"},
                           {"id_number": number[:-1] + "0", "purpose": "待遇核查"},
                           {"id_number": number, "purpose": "x"}):
                api.get("/residents/lookup", who, **params)
                calls += 1
            api.get(f"/residents/{number}", who, purpose="待遇核查")
            api.get("/analytics/residents", "analyst-zhang", purpose="统计", name=number)
            calls += 2
        return httpx.get(f"{api.url}/metrics", timeout=30).text, calls


def test_no_valid_id_number_in_logs_metrics_dead_letters_or_errors(
        stack: HubSettings, hub: HubSettings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    processor_port, connector_port, push_port = free_port(), free_port(), free_port()
    env = settings_env(hub)
    processor = spawn_worker(hub, metrics_port=processor_port)
    listener_log = tmp_path / "listener.log"
    with open(listener_log, "wb") as log:
        listener = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "connect", "social-security", "--listen",
             f"127.0.0.1:{push_port}"], env={**env, "SANWANG_CONNECTOR_METRICS_PORT":
                                             str(connector_port)},
            stdout=log, stderr=subprocess.STDOUT)
    texts: dict[str, str] = {}
    try:
        for department, name in EXPORTS:
            texts[f"backfill {name}"] = _run(["connect", CLI[department], "--file",
                                              str(SAMPLE / name), "--no-progress"], env)
        bait = _bait(tmp_path)
        for department, path in bait.items():
            texts[f"backfill bait {path.name}"] = _run(
                ["connect", CLI[department], "--file", str(path), "--no-progress"], env)
            backfill_file(hub, department, path, progress=False)  # in process: caplog hears
        _wait_for_http(f"http://127.0.0.1:{connector_port}/metrics")
        tokens = json.loads((hub.home / "secrets" / "push-tokens.json").read_text())
        pushed = [json.loads(line) for line in bait["social_security"].read_text().splitlines()]
        answer = httpx.post(f"http://127.0.0.1:{push_port}/push/social-security",
                            json=[{**p, "serial": "PUSH" + p["serial"]} for p in pushed],
                            headers={"Authorization": f"Bearer {tokens['social_security']}"},
                            timeout=60)
        assert answer.json()["rejected"] == len(pushed)
        texts["push answer"] = answer.text
        wait_for_processor(hub, timeout=300)
        texts["processor /metrics"] = httpx.get(f"http://127.0.0.1:{processor_port}/metrics",
                                                timeout=30).text
        texts["connector /metrics"] = httpx.get(f"http://127.0.0.1:{connector_port}/metrics",
                                                timeout=30).text
        texts["api /metrics"], api_calls = _api_run(stack)
        assert processor.poll() is None and listener.poll() is None
    finally:
        listener.terminate()
        listener.wait(timeout=30)
        stop_worker(processor)
    texts["processor log"] = worker_log(hub).read_text(errors="replace")
    texts["listener log"] = listener_log.read_text(errors="replace")
    texts["captured log records"] = "\n".join(  # not the test's own HTTP client's
        caplog.handler.format(r) for r in caplog.records if not r.name.startswith("http"))
    letters = read_data(hub, dead_letter_topic(hub.topic_prefix))
    texts["dead-letter reasons and errors"] = "\n".join(
        f"{letter['reason']}: {letter['error']}" for letter in letters)
    errors = _errors_raised(bait)
    texts["errors raised for bad input"] = "\n".join(errors)

    leaks: dict[str, Any] = {where: id_numbers_in(text) for where, text in texts.items()}
    assert {where: found for where, found in leaks.items() if found} == {}
    assert len(errors) == 3 + 4 + len(pushed)  # every bait record was refused
    assert len(letters) == 2 * len(errors) + len(pushed)  # CLI, in process, pushed
    print(f"\nleak scan: {len(texts)} sources, {sum(len(t) for t in texts.values())} characters,"
          f" {len(letters)} dead letters, {len(errors)} bad-input errors, {api_calls} API calls,"
          " valid ID numbers found 0")
