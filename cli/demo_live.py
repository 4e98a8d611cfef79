"""The demo's live part: the departments' systems changing while the hub runs.

The hub side runs as a user would run it (`sanwang connect ... --db | --watch | --listen`
subprocesses); this module plays the departments: rows inserted into the police table, an
export dropped into the civil affairs folder (written as NAME.part, then renamed), and
records pushed over HTTP by social security. The changes are derived from the city's own
records (a new record id, a later date), so they belong to people the hub already knows.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg2

from deploy import postgres
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
    """The three live connectors as subprocesses; returns them and the police DSN."""
    dsn = _police_database(settings)
    drop.mkdir(parents=True, exist_ok=True)
    env = settings_env(settings)
    log = open(settings.home.resolve() / "live-connectors.log", "ab")  # noqa: SIM115
    commands = (["connect", "police", "--db", dsn], ["connect", "civil-affairs", "--watch",
                str(drop)], ["connect", "social-security", "--listen"])
    started = [subprocess.Popen([sys.executable, "-m", "cli.main", *c], env=env, stdout=log,
                                stderr=subprocess.STDOUT) for c in commands]
    time.sleep(3)  # the replication slot and the HTTP server come up
    return started, dsn


def play_departments(settings: HubSettings, city: Path, dsn: str, drop: Path, seconds: float,
                     seed: int = 1) -> dict[str, int]:
    """Keep changes coming for `seconds`; returns how many records each department sent."""
    rng = random.Random(seed)
    living = _living_records(city)
    police_rows = [r for r in _rows(city / "police_population.csv", "gb18030")
                   if f"police:{r['变动流水号']}" in living and r["变动类型"] != "死亡注销"]
    civil_rows = [r for r in _rows(city / "civil_affairs.csv", "utf-8-sig")
                  if f"civil_affairs:{r['业务流水号']}" in living
                  and r["业务类型"] in ("高龄津贴发放", "残疾人两项补贴")]
    pushes = [record for record in (json.loads(line) for line in (
        city / "social_security.jsonl").read_text(encoding="utf-8").splitlines())
        if f"social_security:{record['serial']}" in living
        and record["event"] == "insurance.enrolled"]
    token = json.loads((settings.home.resolve() / "secrets" / "push-tokens.json").read_text())
    sent = {"police": 0, "civil_affairs": 0, "social_security": 0}
    deadline = time.monotonic() + seconds
    round_ = 0
    while time.monotonic() < deadline:
        round_ += 1
        _insert_police(dsn, [rng.choice(police_rows) for _ in range(20)], round_)
        sent["police"] += 20
        if round_ % 3 == 1 and civil_rows:
            _drop_civil_affairs(drop, [rng.choice(civil_rows) for _ in range(30)], round_)
            sent["civil_affairs"] += 30
        _push(settings, token["social_security"], [rng.choice(pushes) for _ in range(10)],
              round_)
        sent["social_security"] += 10
        time.sleep(1.0)
    return sent


def _living_records(city: Path) -> set[str]:
    """Records of people alive at the export (live changes are for them only)."""
    persons = _rows(city / "persons.csv", "utf-8-sig")
    alive = {p["person"] for p in persons if p["deceased"].strip() == "0"}
    return {f"{r['source']}:{r['record_id']}" for r in _rows(city / "truth.csv", "utf-8-sig")
            if r["person"] in alive}


def _rows(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


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


def _push(settings: HubSettings, token: str, records: list[dict[str, Any]], round_: int) -> None:
    body = [{**r, "serial": f"RSLIVE{round_:05d}{i:04d}",
             "occurred": time.strftime("%Y-%m-%dT%H:%M:%S+08:00")}
            for i, r in enumerate(records)]
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.push_port}/push/social-security",
        data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
