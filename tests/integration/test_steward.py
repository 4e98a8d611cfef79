"""Stewards through the CLI: conflicts, confirm, reject, and a split that sticks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deploy import postgres
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from streams.landing import ConsumedEvent, HubStore
from tests.integration.conftest import query
from tests.integration.store_runs import corrected
from tests.samples import sample_events


def _sanwang(settings: HubSettings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "steward", *args],
                          env=settings_env(settings), capture_output=True, text=True, timeout=60)


@pytest.fixture
def merged(hub: HubSettings) -> HubSettings:
    store = HubStore(postgres.dsn(hub, "sanwang_processor"))
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(sample_events())])
    store.close()
    return hub


def _groups(settings: HubSettings) -> dict[str, set[str]]:
    rows = query(settings, "SELECT resident_id, source || ':' || record_id FROM hub.source_links")
    groups: dict[str, set[str]] = {}
    for resident, ref in rows:
        groups.setdefault(resident, set()).add(ref)
    return groups


def _resident_of(settings: HubSettings, ref: str) -> str:
    return next(r for r, refs in _groups(settings).items() if ref in refs)


def test_a_split_sticks_even_when_the_record_is_corrected_later(merged: HubSettings) -> None:
    resident, refs = max(_groups(merged).items(), key=lambda item: len(item[1]))
    police = sorted(r for r in refs if r.startswith("police:"))[0]
    done = _sanwang(merged, "split", resident, police, "--steward", "王科长", "--note", "test")
    assert done.returncode == 0, done.stderr
    assert "split" in done.stdout
    assert _groups(merged)[_resident_of(merged, police)] == {police}

    event = next(e for e in sample_events() if f"police:{e['subject']}" == police)
    store = HubStore(postgres.dsn(merged, "sanwang_processor"))
    store.apply([ConsumedEvent(corrected(event), "t", 0, 999)])  # new evidence arrives
    store.close()
    assert _groups(merged)[_resident_of(merged, police)] == {police}
    decisions = query(merged, "SELECT kind, steward FROM hub.steward_decisions")
    assert decisions and all(d == ("split", "王科长") for d in decisions)


def test_confirm_joins_and_reject_parts_two_records(merged: HubSettings) -> None:
    groups = sorted(_groups(merged).values(), key=lambda g: sorted(g)[0])
    a, b = sorted(groups[0])[0], sorted(groups[1])[0]
    assert _sanwang(merged, "confirm", a, b, "--steward", "s1").returncode == 0
    assert _resident_of(merged, a) == _resident_of(merged, b)
    assert _sanwang(merged, "reject", a, b, "--steward", "s1").returncode == 0
    assert _resident_of(merged, a) != _resident_of(merged, b)


def test_conflicts_are_listed_and_resolved_ones_stay_resolved(merged: HubSettings) -> None:
    listed = _sanwang(merged, "conflicts", "--limit", "100")
    conflicts = [json.loads(line) for line in listed.stdout.splitlines()]
    assert conflicts, "the corpus has records contradicting the police's birth dates"
    first = conflicts[0]
    assert _sanwang(merged, "resolve", str(first["conflict_id"]), "--steward", "s2"
                    ).returncode == 0
    store = HubStore(postgres.dsn(merged, "sanwang_processor"))
    resident = first["resident_id"]
    refs = [r for (r,) in query(merged, "SELECT ref FROM hub.source_links WHERE resident_id = %s",
                                (resident,)) if r.startswith("police:")]
    event = next(e for e in sample_events() if f"police:{e['subject']}" == refs[0])
    store.apply([ConsumedEvent(corrected(event), "t", 0, 998)])
    store.close()
    still_open = [json.loads(line) for line in _sanwang(merged, "conflicts").stdout.splitlines()]
    assert first["details"] not in [c["details"] for c in still_open]


def test_bad_decisions_are_refused_with_a_reason(merged: HubSettings) -> None:
    done = _sanwang(merged, "confirm", "police:NOPE", "police:NADA", "--steward", "s")
    assert done.returncode == 2 and "unknown records" in done.stderr
    assert _sanwang(merged, "split", "Rnone", "police:X", "--steward", "s").returncode == 2
