"""`sanwang demo`: the whole flow on a local stack it starts itself, told step by step."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg2
from prometheus_client.parser import text_string_to_metric_families

from cli.demo_live import play_departments, start_live_sources
from cli.demo_reports import play_grid_reports
from connectors.file_backfill import backfill_file
from connectors.synthetic_city import generate_city
from connectors.synthetic_output import EXPORTS
from deploy import postgres
from deploy.settings import HubSettings
from deploy.stack import up
from streams.evaluation import read_truth, store_scores
from streams.findings import KINDS
from streams.lag import wait_for_processor


def run_demo(settings: HubSettings, city: Path | None, persons: int, seed: int,
             live_seconds: float) -> int:
    """Stack up, a city backfilled and merged, live changes for a while, then a summary."""
    started = time.monotonic()
    print("1/6 Bringing up the local stack (Apache Kafka, PostgreSQL, Prometheus)")
    up(settings, say=lambda line: print(f"    {line}"))
    # the generated city and the drop folder stay for a look, in the stack's state directory
    # ($SANWANG_HOME) rather than in /tmp, where every run left one behind
    work = Path(tempfile.mkdtemp(prefix="demo-", dir=settings.home.resolve()))
    if city is None:
        city = work / "city"
        stats = generate_city(persons, seed, city)
        print(f"2/6 Generated a city of {stats.persons} people (seed {seed}) in {city}")
    else:
        print(f"2/6 Using the city in {city}")
    exports = [(d, city / name) for d, (name, _) in EXPORTS.items() if (city / name).is_file()]
    if not exports:
        names = ", ".join(name for name, _ in EXPORTS.values())
        print(f"sanwang demo: {city} has none of {names}", file=sys.stderr)
        return 2
    if (city / "grids.csv").is_file():
        _load_grids(settings, city / "grids.csv")
    log_path = settings.home.resolve() / "processor.log"
    print(f"3/6 Starting a processor worker (log: {log_path})")
    with open(log_path, "ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "process"],
                                  stdout=log, stderr=subprocess.STDOUT)
    live: list[subprocess.Popen] = []
    try:
        print(f"4/6 Backfilling the {len(exports)} departments' full exports")
        reconciled = True
        for department, path in exports:
            tally = backfill_file(settings, department, path)
            reconciled &= tally.reconciles
            print(f"    {department}: {tally.summary()}")
        wait_for_processor(settings, timeout=1800)
        before = _latency_buckets(settings)
        print(f"5/6 Live for {live_seconds:.0f} s: police table inserts (logical replication), "
              "civil affairs files dropped, social security, party and health HTTP pushes, "
              "grid workers' reports through the query API")
        live, dsn = start_live_sources(settings, work / "drop")
        sent = play_departments(settings, city, dsn, work / "drop", live_seconds)
        print("    sent live: " + ", ".join(f"{d} {n}" for d, n in sent.items()))
        print(f"    grid workers' reports accepted: {play_grid_reports(settings)}")
        time.sleep(3)  # the last changes reach the topics
        wait_for_processor(settings, timeout=600)
        p99 = _p99(before, _latency_buckets(settings))
    finally:
        for process in [*live, worker]:
            process.terminate()
        for process in [*live, worker]:
            process.wait(timeout=60)
    print("6/6 Summary")
    for line in _summary(settings):
        print(f"    {line}")
    if (city / "truth.csv").is_file():
        scores = store_scores(settings, read_truth(city / "truth.csv"))
        print(f"    against {city / 'truth.csv'}: precision {scores.precision:.4f}, recall "
              f"{scores.recall:.4f}, F1 {scores.f1:.4f} over {scores.records} records")
    if p99 is not None:
        print(f"    live changes, publication to merged: p99 <= {p99:g} s")
    print(f"    query API and console: `sanwang api add-principal NAME --kind analyst`, "
          f"`sanwang api serve`, then http://127.0.0.1:{settings.api_port}/console")
    print(f"    done in {time.monotonic() - started:.0f} s. The stack is still up: "
          "`sanwang status`, `sanwang steward conflicts`; `sanwang down` stops it.")
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


def _latency_buckets(settings: HubSettings) -> dict[float, float]:
    """The processor's publication-to-merged histogram: cumulative count per bucket bound."""
    url = f"http://127.0.0.1:{settings.processor_metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "sanwang_processor_latency_seconds_bucket"
                    and sample.labels.get("stage") == "published_to_stored"):
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def _p99(before: dict[float, float], after: dict[float, float]) -> float | None:
    """The bucket bound under which 99 % of the events merged between two readings fall."""
    counts = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    if total <= 0:
        return None
    return next(le for le, count in counts.items() if count >= 0.99 * total)


def _summary(settings: HubSettings) -> list[str]:
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT source, count(*) FROM hub.events GROUP BY 1 ORDER BY 1")
            events = ", ".join(f"{s} {n}" for s, n in cur.fetchall())
            cur.execute("SELECT count(*), count(*) FILTER (WHERE life_status = 'deceased')"
                        " FROM hub.residents")
            residents, deceased = cur.fetchone()
            cur.execute("SELECT rule, count(*) FROM hub.source_links GROUP BY 1 ORDER BY 2 DESC")
            rules = ", ".join(f"{rule} {n}" for rule, n in cur.fetchall())
            cur.execute("SELECT count(*) FILTER (WHERE grid_code IS NOT NULL),"
                        " count(*) FILTER (WHERE grid_code IS NULL) FROM hub.residents"
                        " WHERE life_status IS DISTINCT FROM 'deceased'")
            placed, unplaced = cur.fetchone()
            cur.execute("SELECT kind, count(*) FROM hub.findings GROUP BY 1")
            found = dict(cur.fetchall())
            findings = ", ".join(f"{kind} {found.get(kind, 0)}" for kind in KINDS)
            cur.execute("SELECT kind, count(*) FROM hub.resident_relations GROUP BY 1 ORDER BY 1")
            relations = ", ".join(f"{kind} {n}" for kind, n in cur.fetchall()) or "none"
            cur.execute("SELECT (SELECT count(*) FROM hub.conflicts WHERE status = 'open'),"
                        " (SELECT count(*) FROM hub.review_queue WHERE status = 'open')")
            conflicts, review = cur.fetchone()
            cur.execute("SELECT department, kind, count(*) FROM hub.verification_tasks"
                        " WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2")
            tasks = ", ".join(f"{d} {kind} {n}" for d, kind, n in cur.fetchall()) or "none"
    finally:
        conn.close()
    return [f"records stored once each: {events}",
            f"merged into {residents} residents ({deceased} deceased)",
            f"records linked by: {rules}",
            f"living residents placed in a grid: {placed}; not placeable: {unplaced}",
            f"findings: {findings}",
            f"relations between residents: {relations}",
            f"open conflicts for stewards: {conflicts}; possible matches to review: {review}",
            f"verification tasks grid reports opened: {tasks}"]
