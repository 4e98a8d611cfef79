"""The query API answers what its OpenAPI says, checked by Schemathesis with every check it has
(`st run --checks all`: statuses, content types, headers, response bodies, positive data
accepted, negative data rejected, authentication enforced, methods...) as each kind of
principal, over a merged sample city of its own (stewards' decisions change it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.settings import HubSettings
from tests.integration.api_stack import ANALYST, DEPARTMENTS, STEWARD, Served, api_over_sample
from tests.integration.conftest import clear_id_numbers, query

REPO = Path(__file__).resolve().parents[2]
PROJECT_CONFIG = REPO / "schemathesis.toml"  # what `st run` finds anywhere in the repository
EXAMPLES_PER_OPERATION = 20  # with every phase, ~1,200 requests per principal in ~10-15 s


@pytest.fixture(scope="module")
def api(stack: HubSettings) -> Iterator[Served]:
    with api_over_sample(stack) as served:
        yield served


def _toml(values: list[str]) -> str:
    return json.dumps(sorted(values))  # a JSON array of ASCII strings is a TOML array


def known_values(api: Served) -> str:
    """Config lines that make generated requests also name what the store holds (residents,
    their ID numbers, records), half the time: lookups that find someone, decisions that
    regroup, not only 404s."""
    links = query(api.settings, "SELECT resident_id, ref FROM hub.source_links"
                                " ORDER BY resident_id, ref LIMIT 12")
    residents = sorted({r for r, _ in links})
    numbers = [n for r, n in clear_id_numbers(api.settings).items() if r in residents and n]
    bindings = {"path.resident_id": "residents", "body.resident_id": "residents",
                "query.id_number": "id_numbers", "body.a": "records", "body.b": "records",
                "body.records[*]": "records"}
    return "\n".join([
        "[dictionaries]",
        f"residents = {{ values = {_toml(residents)} }}",
        f"id_numbers = {{ values = {_toml(numbers)} }}",
        f"records = {{ values = {_toml([ref for _, ref in links])} }}",
        "[parameters]",
        *(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}'
          for key, name in bindings.items())])


def schemathesis(api: Served, who: str, config: Path, workdir: Path) -> tuple[str, Counter]:
    """`st run --checks all` as `who`: its output (failures, seed) if it failed, else "", and
    the statuses of the requests it sent."""
    har = workdir / f"{who}.har"
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
         f"{api.url}/openapi.json", "--checks", "all",
         "--header", f"Authorization: Bearer {api.principals.tokens[who]}",
         "--max-examples", str(EXAMPLES_PER_OPERATION), "--generation-database", "none",
         "--no-color", "--report", "har", "--report-har-path", str(har)],
        cwd=workdir, capture_output=True, text=True, timeout=300)  # its caches land in workdir
    entries = json.loads(har.read_text())["log"]["entries"]
    failed = run.stdout + run.stderr if run.returncode else ""
    return failed, Counter(e["response"]["status"] for e in entries)


def test_schemathesis_finds_nothing_with_every_check_as_each_kind_of_principal(
        api: Served, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(PROJECT_CONFIG.read_text() + "\n" + known_values(api) + "\n")
    principals = [DEPARTMENTS["police"], ANALYST, STEWARD, api.grid_workers[0]]
    started = time.monotonic()
    results = {who: schemathesis(api, who, config, tmp_path) for who in principals}
    elapsed = time.monotonic() - started
    print(f"schemathesis: {elapsed:.0f} s,",
          {who: sorted(statuses.items()) for who, (_, statuses) in results.items()})
    for who, (failed, _) in results.items():
        assert not failed, f"as {who}:\n{failed[-6000:]}"
    for who, (_, statuses) in results.items():  # each token was taken and reached the store
        assert statuses[200] >= 10 and sum(statuses.values()) >= 1000, (who, statuses)
    assert elapsed < 150
