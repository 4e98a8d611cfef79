"""Tools for the fault campaigns (tests/integration/test_fault_campaigns.py): processor
subprocesses to kill, the services' own stop/start, time limits, and a comparison of two stores
that names what differs instead of printing them whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from kafka.errors import KafkaError

from connectors.file_backfill import backfill_file
from deploy import postgres
from deploy.processes import _is_zombie
from deploy.settings import HubSettings
from schemas.topics import raw_topics
from streams.features import record_version
from streams.lag import LagProbe, wait_for_processor
from tests.integration.conftest import landed_events, query
from tests.integration.kafka_topics import read_topic
from tests.integration.store_runs import snapshot
from tests.integration.workers import spawn_worker, worker_log

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))

# A worker killed with SIGKILL never leaves its consumer group: the broker notices only when its
# session times out (faust's default: 60 s), and until then a restarted worker waits in the
# rebalance. The campaigns shorten the session to the broker's minimum (6 s) through faust's own
# environment settings; nothing else of the processor changes.
FAST_REBALANCE = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}
# The campaigns compare a faulted store with a clean one, so both merge with the same (shipped)
# parameters: a re-estimate depends on when a worker lived long enough to make one. Switching
# parameters and linking again are tested on their own (test_reestimate.py).
SAME_PARAMETERS = {"SANWANG_REESTIMATE_SECONDS": "0"}


class FaultNotSurvived(AssertionError):  # noqa: N818 - reads as what happened
    """The hub did not come through a fault as promised (a worker died, events were lost or
    applied twice); what an `xfail(raises=...)` for a known bug expects, so that any other
    failure of a campaign (its own set-up, a time limit) still fails the test."""


class Overtime(Exception):  # noqa: N818 - reads as what happened
    """A campaign ran past its time budget."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise Overtime in the main thread once `seconds` have passed (finally blocks still run)."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise Overtime(f"{what}: over its {seconds:.0f} s budget")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- processors -------------------------------------------------------------------------------

def spawn_processor(settings: HubSettings, name: str, batch_size: int | None = None
                    ) -> subprocess.Popen:
    """A real worker that rebalances fast after a kill (FAST_REBALANCE); `batch_size`: the most
    events it merges in one transaction (default: the hub's)."""
    batch = {} if batch_size is None else {"SANWANG_PROCESSOR_BATCH_SIZE": str(batch_size)}
    return spawn_worker(settings, name, env={**FAST_REBALANCE, **SAME_PARAMETERS, **batch})


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_caught_up(settings: HubSettings, timeout: float,
                   proc: subprocess.Popen | None = None, name: str = "") -> None:
    """Until the consumer lag is 0; fail at once if the worker that should get there exits."""

    def still_running(_lag: int) -> None:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"processor {name} exited with {proc.returncode} before its lag "
                                 f"was 0:\n{log_tail(worker_log(settings, name))}")

    wait_for_processor(settings, timeout, on_lag=still_running)


def total_lag(probe: LagProbe) -> int | None:
    try:
        return sum(probe.lag().values())
    except KafkaError:
        return None


def landed(settings: HubSettings) -> int:
    return query(settings, "SELECT count(*) FROM hub.events")[0][0]


def open_write_transactions(settings: HubSettings) -> int:
    """Transactions of the processor role in this database that have written something."""
    conn = psycopg2.connect(postgres.dsn(settings, postgres.ADMIN_ROLE, "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                        " AND usename = 'sanwang_processor' AND backend_xid IS NOT NULL",
                        (settings.database,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def wait_for_first_landing(settings: HubSettings, proc: subprocess.Popen, name: str,
                           before: int, timeout: float = 90.0) -> float:
    """Seconds until this worker landed events of its own (the count passed `before`)."""
    started = time.monotonic()
    while landed(settings) <= before:
        if proc.poll() is not None:
            raise AssertionError(f"processor {name} exited with {proc.returncode} before "
                                 f"landing anything:\n{log_tail(worker_log(settings, name))}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"processor {name} landed nothing within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


# --- events and stores ------------------------------------------------------------------------

def backfill_city(settings: HubSettings, city: Path) -> int:
    """The three departments' exports to this hub's raw topics; records published."""
    published = 0
    for department, name in EXPORTS:
        tally = backfill_file(settings, department, city / name, progress=False)
        assert tally.reconciles and not tally.dead_lettered, tally.summary()
        published += tally.published
    return published


@dataclass(frozen=True)
class Published:
    """What the raw topics hold: every message's event id and record reference."""

    ids: list[str]
    refs: set[str]

    @property
    def distinct(self) -> set[str]:
        return set(self.ids)


def published_events(settings: HubSettings) -> Published:
    ids: list[str] = []
    refs: set[str] = set()
    for topic in raw_topics(settings.topic_prefix):
        for event in read_topic(settings, topic):
            ids.append(event["id"])
            refs.add(f"{event['source'].rsplit('/', 1)[-1]}:{event['subject']}")
    return Published(ids, refs)


def store_state(settings: HubSettings) -> dict[str, Any]:
    """`snapshot` (groups, golden values, history, conflicts; resident ids replaced by their
    records) plus what a doubly applied event would disturb: each record's current version,
    its blocking keys (as a multiset), the match edges, the review queue and the findings."""
    state = snapshot(settings)
    members = {resident: tuple(sorted(refs)) for resident, refs in query(
        settings, "SELECT resident_id, array_agg(source || ':' || record_id)"
                  " FROM hub.source_links GROUP BY 1")}
    state["records"] = {ref: (event_id, version) for ref, event_id, version in query(
        settings, "SELECT ref, event_id, version FROM hub.source_records")}
    state["record_keys"] = Counter(query(settings, "SELECT ref, key FROM hub.record_keys"))
    state["edges"] = sorted(query(settings, "SELECT a, b, rule, round(score::numeric, 6),"
                                            " agreed FROM hub.match_edges"), key=repr)
    state["review"] = sorted(query(settings, "SELECT a, b, round(score::numeric, 6), status"
                                             " FROM hub.review_queue"), key=repr)
    state["findings"] = sorted(((members[r], kind, since, evidence) for r, kind, since, evidence
                                in query(settings, "SELECT resident_id, kind, since,"
                                         " evidence::text FROM hub.resident_findings")), key=repr)
    state["links"] = {ref: rule for ref, rule in query(
        settings, "SELECT ref, rule FROM hub.source_links")}
    return state


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def differences(got: dict[str, Any], want: dict[str, Any], examples: int = 3) -> list[str]:
    """What differs between two `store_state`s, section by section, with a few examples
    (pytest's own diff of 20,000-row structures would take minutes)."""
    found = []
    for section in want:
        a, b = got.get(section), want[section]
        if a == b:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            only_a = sorted(set(a) - set(b), key=repr)
            only_b = sorted(set(b) - set(a), key=repr)
            changed = sorted((k for k in set(a) & set(b) if a[k] != b[k]), key=repr)
            found.append(f"{section}: {len(only_a)} only in the faulted run "
                         f"{only_a[:examples]}, {len(only_b)} only in the clean run "
                         f"{only_b[:examples]}, {len(changed)} differ "
                         f"{[(k, a[k], b[k]) for k in changed[:examples]]}")
        else:
            ca, cb = Counter(map(_hashable, a)), Counter(map(_hashable, b))
            extra, missing = ca - cb, cb - ca
            found.append(f"{section}: {sum(extra.values())} rows only in the faulted run "
                         f"{list(extra)[:examples]}, {sum(missing.values())} only in the clean "
                         f"run {list(missing)[:examples]}")
    return found


def landing_problems(settings: HubSettings, published: Published) -> list[str]:
    """Each published event landed exactly once, and each record's stored version is the latest
    landed one (an event applied twice, or an older one applied after a newer, would show)."""
    problems = []
    landed = landed_events(settings)
    rows = [(event_id, f"{e['source'].rsplit('/', 1)[-1]}:{e['subject']}",
             (e["data"].get("origin") or {}).get("gxsj")) for event_id, e in landed.items()]
    ids = [event_id for event_id, _, _ in rows]
    if len(ids) != len(published.distinct):
        problems.append(f"hub.events holds {len(ids)} events, {len(published.distinct)} "
                        "distinct event ids were published")
    missing = published.distinct - set(ids)
    extra = set(ids) - published.distinct
    if missing or extra:
        problems.append(f"{len(missing)} published events never landed {sorted(missing)[:3]}; "
                        f"{len(extra)} landed that were never published {sorted(extra)[:3]}")
    latest: dict[str, tuple[str, str]] = {}
    for event_id, ref, gxsj in rows:
        version = record_version(gxsj, event_id)
        if ref not in latest or latest[ref][1] < version:
            latest[ref] = (event_id, version)
    stored = {ref: (event_id, version) for ref, event_id, version in query(
        settings, "SELECT ref, event_id, version FROM hub.source_records")}
    if set(stored) != set(latest) or set(stored) != published.refs:
        problems.append(f"records: {len(stored)} stored, {len(latest)} landed, "
                        f"{len(published.refs)} published")
    wrong = sorted(ref for ref in set(stored) & set(latest) if stored[ref] != latest[ref])
    if wrong:
        problems.append(f"{len(wrong)} records' stored version is not their latest landed "
                        f"event: {[(r, stored[r], latest[r]) for r in wrong[:3]]}")
    doubled = query(settings, "SELECT ref, key, count(*) FROM hub.record_keys"
                              " GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 3")
    if doubled:
        problems.append(f"blocking keys stored twice: {doubled}")
    unlinked = query(settings, "SELECT count(*) FROM hub.source_records r WHERE NOT EXISTS"
                               " (SELECT 1 FROM hub.source_links l WHERE l.ref = r.ref)")[0][0]
    if unlinked:
        problems.append(f"{unlinked} stored records belong to no resident")
    return problems


# --- the session's services -------------------------------------------------------------------

def kafka_pid_file(settings: HubSettings) -> Path:
    return settings.home.resolve() / "kafka" / "kafka.pid"


def kill_9(pid: int) -> None:
    """SIGKILL one process by its id; collect it if it is this process's own child."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not (or no longer) our child: wait until it is gone
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            if _is_zombie(pid):
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still there 30 s after SIGKILL")
