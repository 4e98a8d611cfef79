"""`sanwang demo`: the whole flow on a local stack it starts itself, told step by step."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.settings import HubSettings
from deploy.stack import up
from streams.evaluation import read_truth, store_scores
from streams.lag import wait_for_processor

DEFAULT_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "departments" / "sample"
EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))


def run_demo(settings: HubSettings, city: Path) -> int:
    """Bring the stack up, backfill a city's three exports, merge them, and report."""
    missing = [name for _, name in EXPORTS if not (city / name).is_file()]
    if missing:
        print(f"sanwang demo: {city} lacks {', '.join(missing)} (use --city)", file=sys.stderr)
        return 2
    started = time.monotonic()
    print("1/5 Bringing up the local stack (Apache Kafka, PostgreSQL, Prometheus)")
    up(settings, say=lambda line: print(f"    {line}"))
    log_path = settings.home.resolve() / "processor.log"
    print(f"2/5 Starting a processor worker (log: {log_path})")
    with open(log_path, "ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "process"],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        if (city / "grids.csv").is_file():
            _load_grids(settings, city / "grids.csv")
        print(f"3/5 Backfilling the three departments' exports from {city}")
        reconciled = True
        for department, name in EXPORTS:
            tally = backfill_file(settings, department, city / name)
            reconciled &= tally.reconciles
            print(f"    {department}: {tally.summary()}")
        print("4/5 Waiting until the processor has merged every event")
        wait_for_processor(settings, timeout=600)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    print("5/5 Summary")
    for line in _summary(settings):
        print(f"    {line}")
    if (city / "truth.csv").is_file():
        scores = store_scores(settings, read_truth(city / "truth.csv"))
        print(f"    against {city / 'truth.csv'}: precision {scores.precision:.4f}, recall "
              f"{scores.recall:.4f}, F1 {scores.f1:.4f} over {scores.records} records")
    print(f"    in {time.monotonic() - started:.0f} s. The stack is still up: `sanwang status` "
          "shows it, `sanwang steward conflicts` lists conflicts, `sanwang down` stops it.")
    return 0 if reconciled else 1


def _load_grids(settings: HubSettings, path: Path) -> None:
    from streams.grids import read_grids_csv, store_grids

    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            print(f"    grid reference: {store_grids(cur, read_grids_csv(path))} grids "
                  f"from {path.name}")
    finally:
        conn.close()


def _summary(settings: HubSettings) -> list[str]:
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM hub.events")
            events = cur.fetchone()[0]
            cur.execute("SELECT count(*), count(*) FILTER (WHERE life_status = 'deceased')"
                        " FROM hub.residents")
            residents, deceased = cur.fetchone()
            cur.execute("SELECT rule, count(*) FROM hub.source_links GROUP BY 1 ORDER BY 2 DESC")
            rules = ", ".join(f"{rule} {n}" for rule, n in cur.fetchall())
            cur.execute("SELECT count(*) FILTER (WHERE grid_code IS NOT NULL),"
                        " count(*) FILTER (WHERE grid_code IS NULL) FROM hub.residents"
                        " WHERE life_status = 'alive'")
            placed, unplaced = cur.fetchone()
            cur.execute("SELECT count(*) FROM hub.conflicts WHERE status = 'open'")
            conflicts = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM hub.review_queue WHERE status = 'open'")
            review = cur.fetchone()[0]
    finally:
        conn.close()
    return [f"{events} events stored once each, merged into {residents} residents "
            f"({deceased} deceased)",
            f"records linked by: {rules}",
            f"living residents placed in a grid: {placed}; not placeable: {unplaced}",
            f"open conflicts for stewards: {conflicts}; possible matches to review: {review}"]
