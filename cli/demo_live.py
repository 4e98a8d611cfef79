"""The demo's live part: the departments' systems changing while the hub runs.

The hub side runs as a user would run it (`sanwang connect ... --db | --watch | --listen`
subprocesses; the one push endpoint serves every department that pushes); this module plays the
departments: rows inserted into the police table, an export dropped into the civil affairs
folder (written as NAME.part, then renamed), and records pushed over HTTP by social security,
the party organisation and health. The changes are derived from the city's own records (a new
record id, a later date), so they belong to people the hub already knows: insurance enrolments,
party members moving their membership to where they live (组织关系转入, which ends their
party_member_living_elsewhere finding), reissued birth certificates of named children (补发).
"""

from __future__ import annotations

import csv
import io
import json
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

from deploy import postgres
from deploy.errors import ServiceError
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.departments import department

POLICE_DATABASE = "police_demo"


def _police_database(settings: HubSettings) -> str:
    """The stand-in police system: its own database with `t_rk_bdjl`, created once."""
    admin = psycopg2.connect(postgres.dsn(settings))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POLICE_DATABASE,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {POLICE_DATABASE}")
    admin.close()
    dsn = postgres.dsn(settings, "sanwang_owner", POLICE_DATABASE)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('t_rk_bdjl')")
        if cur.fetchone()[0] is None:
            cur.execute(department("police").live.ddl)
    conn.close()
    return dsn


def start_live_sources(settings: HubSettings, drop: Path) -> tuple[list[subprocess.Popen], str]:
    """The live connectors as subprocesses (the police table's replication, the civil affairs
    drop folder, and the push endpoint, which serves every department that pushes); returns
    them and the police DSN."""
    dsn = _police_database(settings)
    drop.mkdir(parents=True, exist_ok=True)
    env = settings_env(settings)  # three connectors: none is given a metrics port, each takes
    env.pop("SANWANG_CONNECTOR_METRICS_PORT", None)  # a free one and registers it (file_sd)
    log = open(settings.home.resolve() / "live-connectors.log", "ab")  # noqa: SIM115
    commands = (["connect", "police", "--db", dsn], ["connect", "civil-affairs", "--watch",
                str(drop)], ["connect", "social-security", "--listen"])
    started = [subprocess.Popen([sys.executable, "-m", "cli.main", *c], env=env, stdout=log,
                                stderr=subprocess.STDOUT) for c in commands]
    time.sleep(3)  # the replication slot comes up
    try:
        _wait_for_port(settings.push_port, timeout=120)  # the push endpoint's publishers, HTTP
    except ServiceError:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=60)
        raise
    return started, dsn


def _wait_for_port(port: int, timeout: float) -> None:
    """Return once 127.0.0.1:port accepts connections; ServiceError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ServiceError(f"the push endpoint: nothing answers on port {port} after "
                                   f"{timeout:g} s (see live-connectors.log)") from None
            time.sleep(0.5)


@dataclass
class _Sources:
    """The city's records each department's stand-in draws its live changes from."""

    police: list[dict[str, str]]
    civil_affairs: list[dict[str, str]]
    enrolments: list[dict[str, Any]]
    transfers: list[dict[str, str]]  # used up, each sent once
    births: list[dict[str, str]]


def _sources(city: Path) -> _Sources:
    living = _living_records(city)
    return _Sources(
        police=[r for r in _rows(city / "police_population.csv", "gb18030")
                if f"police:{r['变动流水号']}" in living and r["变动类型"] != "死亡注销"],
        civil_affairs=[r for r in _rows(city / "civil_affairs.csv", "utf-8-sig")
                       if f"civil_affairs:{r['业务流水号']}" in living
                       and r["业务类型"] in ("高龄津贴发放", "残疾人两项补贴")],
        enrolments=[record for record in _jsonl(city / "social_security.jsonl")
                    if f"social_security:{record['serial']}" in living
                    and record["event"] == "insurance.enrolled"],
        transfers=_party_transfers(city),
        births=[r for r in _rows(city / "health_certificates.csv", "utf-8")
                if f"health:{r['证明编号']}" in living and r["证明类型"] == "出生医学证明"
                and r["姓名"]])


def play_departments(settings: HubSettings, city: Path, dsn: str, drop: Path, seconds: float,
                     seed: int = 1) -> dict[str, int]:
    """Keep changes coming for `seconds`; returns how many records each department sent."""
    rng = random.Random(seed)
    sources = _sources(city)
    tokens = json.loads((settings.home.resolve() / "secrets" / "push-tokens.json").read_text())
    sent: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    round_ = 0
    while time.monotonic() < deadline:
        round_ += 1
        if sources.police:
            _insert_police(dsn, [rng.choice(sources.police) for _ in range(20)], round_)
            sent["police"] += 20
        if round_ % 3 == 1 and sources.civil_affairs:
            _drop_civil_affairs(drop, [rng.choice(sources.civil_affairs) for _ in range(30)],
                                round_)
            sent["civil_affairs"] += 30
        for department_id, body in _push_bodies(sources, round_, rng).items():
            sent[department_id] += _push(settings, department_id, tokens[department_id], body)
        time.sleep(1.0)
    return dict(sent)


def _push_bodies(sources: _Sources, round_: int, rng: random.Random
                 ) -> dict[str, list[dict[str, Any]]]:
    """One round's pushes: new record ids, today's dates."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    moving = sources.transfers[:5]
    del sources.transfers[:5]
    bodies = {
        "social_security": [{**rng.choice(sources.enrolments), "occurred": now,
                             "serial": f"RSLIVE{round_:05d}{i:04d}"}
                            for i in range(10 if sources.enrolments else 0)],
        "party": [{**row, "记录号": f"DJLIVE{round_:05d}{i:04d}", "变动日期": now[:10]}
                  for i, row in enumerate(moving)],
        "health": [{**rng.choice(sources.births), "证明编号": f"OLIVE{round_:05d}{i:04d}",
                    "签发日期": now[:10]} for i in range(5 if sources.births else 0)],
    }
    return {department_id: body for department_id, body in bodies.items() if body}


def _living_records(city: Path) -> set[str]:
    """Records of people alive at the export (live changes are for them only)."""
    alive = _alive(city)
    return {f"{r['source']}:{r['record_id']}" for r in _rows(city / "truth.csv", "utf-8-sig")
            if r["person"] in alive}


def _alive(city: Path) -> dict[str, str]:
    """Living person -> the grid they live in, from persons.csv."""
    return {p["person"]: p["grid"] for p in _rows(city / "persons.csv", "utf-8-sig")
            if p["deceased"].strip() == "0"}


def _party_transfers(city: Path) -> list[dict[str, str]]:
    """Living members whose membership is kept in another community than where they live,
    transferring it there (组织关系转入): each member's latest row, moved."""
    alive = _alive(city)
    person_of = {r["record_id"]: r["person"] for r in _rows(city / "truth.csv", "utf-8-sig")
                 if r["source"] == "party" and r["person"] in alive}
    rows = sorted(_rows(city / "party_members.csv", "utf-8"),
                  key=lambda row: (row["变动日期"], row["记录号"]))
    latest = {person_of[row["记录号"]]: row for row in rows if row["记录号"] in person_of}
    grids = {g["网格编码"]: g for g in _rows(city / "grids.csv", "utf-8-sig")}
    transfers = []
    for person, row in sorted(latest.items()):
        grid = grids.get(alive[person])
        if grid is None or row["变动类型"] == "死亡":
            continue
        place = grid["区县"] + grid["乡镇街道"] + grid["村社区"]
        if place != row["组织关系所在地"]:
            transfers.append({**row, "变动类型": "组织关系转入", "组织关系所在地": place,
                              "所在党组织": f"中共{place}支部委员会"})
    return transfers


def _rows(path: Path, encoding: str) -> list[dict[str, str]]:
    """A CSV file's rows; none when the city has no such file (a department not in it)."""
    if not path.is_file():
        return []
    with open(path, encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _insert_police(dsn: str, rows: list[dict[str, str]], round_: int) -> None:
    """Address changes (住址变更) of known people, as the police system records them."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        for i, row in enumerate(rows):
            values = {header: row[header] for header in department("police").header}
            values |= {"变动流水号": f"GALIVE{round_:05d}{i:04d}", "变动类型": "住址变更",
                       "变动日期": time.strftime("%Y-%m-%d")}
            cur.execute("INSERT INTO t_rk_bdjl (bdlsh, rybh, gmsfhm, xm, xb, mz, csrq, hjdz, xzz,"
                        " lxdh, rylb, bdlx, bdrq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                        " %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [values[h] or None for h in department("police").header])
    conn.close()


def _drop_civil_affairs(drop: Path, rows: list[dict[str, str]], round_: int) -> None:
    """A day's export: written as NAME.part, renamed when complete."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=department("civil_affairs").header,
                            lineterminator="\r\n")
    writer.writeheader()
    for i, row in enumerate(rows):
        writer.writerow({**row, "业务流水号": f"MZLIVE{round_:05d}{i:04d}",
                         "办理日期": time.strftime("%Y-%m-%d")})
    part = drop / f"export-{round_:05d}.csv.part"
    part.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))
    part.rename(part.with_suffix(""))


def _push(settings: HubSettings, department_id: str, token: str, body: list[dict[str, Any]]
          ) -> int:
    """POST records to the push endpoint as the department; how many it accepted."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.push_port}/push/{department(department_id).cli_name}",
        data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["accepted"])
