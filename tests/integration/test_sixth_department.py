"""A sixth department needs its declaration and its event schema only: declared in a folder of
its own (beside copies of the five), it gets its topic, principal and ACLs from `sanwang up`, is
backfilled with `sanwang connect`, merged by `sanwang process`, and read back through the query
API under the fields its declaration `reads`."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connectors.fields import parse_id_number
from deploy.private_stack import free_port, settings_env
from deploy.settings import HubSettings
from tests.integration.conftest import query
from tests.integration.workers import joined, spawn_worker, stop_worker
from tests.samples import SAMPLE

DECLARATION = '''# 退役军人事务局 Veterans affairs: a department the hub was not built with.
id = "veterans"
name = "退役军人事务局"
title = "Veterans affairs: service records"
network = "services"
event_type = "hub.veterans.service_record"
addresses = ["address"]
owns = ["veteran_status"]
reads = ["name", "birth_date", "life_status", "veteran_status"]
fields = [
  { field = "record_id", column = "档案号", parse = "text", required = true },
  { field = "id_number", column = "身份证号", parse = "id_number" },
  { field = "name", column = "姓名", parse = "text" },
  { field = "sex", column = "性别", parse = "sex" },
  { field = "birth_date", column = "出生日期", parse = "date" },
  { field = "address", column = "住址", parse = "text" },
  { field = "discharged_on", column = "退役日期", parse = "date" },
  { field = "occurred", column = "登记日期", parse = "date", required = true },
]

[backfill]
formats = [{ kind = "csv", suffix = ".csv", encoding = "utf-8" }]

[live]
kind = "http_push"

[attributes.veteran_status]
description = "a veteran (退役军人), discharged when"

[[facts]]
attribute = "veteran_status"
object = { discharged = "discharged_on" }
'''
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "urn:sanwang:schema:hub.veterans.service_record:v1",
    "type": "object",
    "required": ["record_id", "occurred"],
    "properties": {
        "record_id": {"type": "string", "minLength": 1},
        "id_number": {"$ref": "urn:sanwang:schema:common:v1#/$defs/id_number"},
        "name": {"type": ["string", "null"]},
        "sex": {"$ref": "urn:sanwang:schema:common:v1#/$defs/sex"},
        "birth_date": {"$ref": "urn:sanwang:schema:common:v1#/$defs/partial_date"},
        "address": {"type": ["string", "null"]},
        "discharged_on": {"$ref": "urn:sanwang:schema:common:v1#/$defs/partial_date"},
        "occurred": {"$ref": "urn:sanwang:schema:common:v1#/$defs/partial_date"},
    },
}


def _folder(tmp_path: Path) -> Path:
    """The packaged declarations and schemas, and the sixth department's two files."""
    packaged = HubSettings().departments_dir
    folder = tmp_path / "departments"
    shutil.copytree(packaged, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (folder / "veterans.toml").write_text(DECLARATION, encoding="utf-8")
    (folder / "events" / "hub.veterans.service_record.v1.json").write_text(json.dumps(SCHEMA))
    return folder


def _veterans_export(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three service records of people in the sample's police export (by their ID numbers),
    and one with an impossible date."""
    with open(SAMPLE / "police_population.csv", encoding="gb18030", newline="") as file:
        people = {row["公民身份号码"]: row for row in csv.DictReader(file)
                  if row["变动类型"] == "户籍登记" and _clean_number(row)}
    chosen = sorted(people)[:3]
    path = tmp_path / "veterans.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["档案号", "身份证号", "姓名", "性别", "出生日期", "住址", "退役日期",
                         "登记日期"])
        for i, number in enumerate(chosen):
            row = people[number]
            writer.writerow([f"TY{i:04d}", number, row["姓名"], row["性别"], row["出生日期"],
                             row["现住址"], f"20{10 + i}-06-30", f"20{10 + i}-07-01"])
        writer.writerow(["TY9999", "", "某某", "男", "1970-01-01", "", "", "2019-02-30"])
    return path, chosen


def _clean_number(row: dict[str, str]) -> bool:
    """A valid number, written as is, that agrees with the row's own birth date."""
    number = parse_id_number(row["公民身份号码"])
    return bool(number and number.normalized == row["公民身份号码"]
                and number.normalized[6:14] == row["出生日期"].replace("-", ""))


def _cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cli.main", *argv], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done


@pytest.fixture
def sixth(hub: HubSettings, tmp_path: Path) -> dict[str, str]:
    """The environment of every `sanwang` process that knows the sixth department."""
    env = {**settings_env(hub), "SANWANG_DEPARTMENTS_DIR": str(_folder(tmp_path))}
    _cli(env, "up")  # topics, the new principal and its ACLs
    return env


def test_a_declared_department_runs_end_to_end(hub: HubSettings, sixth: dict[str, str],
                                               tmp_path: Path) -> None:
    export, numbers = _veterans_export(tmp_path)
    backfill = _cli(sixth, "connect", "veterans", "--file", str(export), "--no-progress")
    assert "read 4 = published 3 + dead-lettered 1" in backfill.stdout
    _cli(sixth, "connect", "police", "--file", str(SAMPLE / "police_population.csv"),
         "--no-progress")
    worker = spawn_worker(hub, env={"SANWANG_DEPARTMENTS_DIR": sixth["SANWANG_DEPARTMENTS_DIR"]})
    try:
        joined(hub, worker)  # `wait` refuses at once while no processor is in the group
        _cli(sixth, "wait", "--timeout", "300")
    finally:
        stop_worker(worker)
    linked = query(hub, "SELECT v.resident_id, count(p.ref) FROM hub.source_links v"
                        " JOIN hub.source_links p ON p.resident_id = v.resident_id"
                        " AND p.source = 'police' WHERE v.source = 'veterans'"
                        " GROUP BY v.resident_id")
    assert len(linked) == 3 and all(count >= 1 for _, count in linked)  # each with its police

    token = _cli(sixth, "api", "add-principal", "veterans-system", "--kind", "department",
                 "--department", "veterans").stdout.strip().rsplit(" ", 1)[-1]
    police = _cli(sixth, "api", "add-principal", "police-system", "--kind", "department",
                  "--department", "police").stdout.strip().rsplit(" ", 1)[-1]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "api", "serve", "--listen",
                               f"127.0.0.1:{port}"], env=sixth, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/residents/lookup"
        ask = {"id_number": numbers[0], "purpose": "service record check"}
        answer = _when_up(lambda: httpx.get(url, params=ask, timeout=10,
                                            headers={"Authorization": f"Bearer {token}"}))
        assert answer.status_code == 200, answer.text
        values = answer.json()["values"]
        assert set(values) == {"name", "birth_date", "life_status", "veteran_status"}
        assert values["veteran_status"] == {"discharged": "2010-06-30"}
        theirs = httpx.get(url, params=ask, timeout=10,
                           headers={"Authorization": f"Bearer {police}"}).json()["values"]
        assert "veteran_status" not in theirs and "hukou_address" in theirs
    finally:
        server.terminate()
        server.wait(timeout=30)


def _when_up(call):  # noqa: ANN001, ANN202 - a retry helper
    deadline = time.monotonic() + 30
    while True:
        try:
            return call()
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
