"""The browser console end to end: the sample city streamed through the real broker into a
processor whose /metrics the session's Prometheus scrapes, the API with the console router on a
free port, and headless Chromium (Playwright driving Debian's /usr/bin/chromium) reading the
numbers the page renders, checked against the store and the processor's counters.

The screenshot goes to $SANWANG_CONSOLE_SCREENSHOT (docs/console.png was made that way), else
into the test's temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import playwright.sync_api as playwright  # noqa: E402
import psycopg2
import pytest
from prometheus_client import CollectorRegistry, start_http_server

from api.access import add_principal
from api.app import create_app
from connectors import metrics as connector_metrics
from connectors.file_backfill import backfill_file
from deploy import metrics_targets, postgres, prometheus
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from streams.lag import wait_for_processor
from tests.integration.conftest import query
from tests.integration.workers import serving, spawn_worker, stop_worker
from tests.samples import SAMPLE

EXPORTS = (("police", "police_population.csv"), ("civil_affairs", "civil_affairs.csv"),
           ("social_security", "social_security.jsonl"))
SAMPLE_EVENTS = 949
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
PURPOSE = "console end-to-end test"


@pytest.fixture
def metered_processor(hub: HubSettings) -> Iterator[subprocess.Popen]:
    """conftest's `processor`, but serving /metrics on the port Prometheus scrapes (that one
    serves none), so the operators' view has the processor's numbers."""
    proc = spawn_worker(hub, metrics_port=hub.processor_metrics_port)
    yield proc
    stop_worker(proc)


@contextmanager
def connector_metrics_served(hub: HubSettings) -> Iterator[None]:
    """This process's connector counters (the backfills run here) on the connectors' port,
    from a registry of their own (other tests may have registered processor metrics), as a
    target the session's Prometheus finds."""
    registry = CollectorRegistry()
    for metric in (connector_metrics.RECORDS_READ, connector_metrics.RECORDS_PUBLISHED,
                   connector_metrics.RECORDS_DEAD_LETTERED, connector_metrics.LIVE_LAG_SECONDS):
        registry.register(metric)
    port = hub.connector_metrics_port
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    target = metrics_targets.register(hub, metrics_targets.CONNECTORS, "127.0.0.1", port)
    try:
        yield
    finally:
        target.unlink()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def console_api(hub: HubSettings) -> Iterator[str]:
    """The API with its console, uvicorn on a free port."""
    app = create_app(postgres.dsn(hub, "sanwang_api"), postgres.dsn(hub, "sanwang_processor"),
                     prometheus.endpoint(hub))
    with serving(app) as url:
        yield url


def tokens(hub: HubSettings) -> dict[str, str]:
    conn = psycopg2.connect(postgres.dsn(hub, postgres.ADMIN_ROLE))
    with conn, conn.cursor() as cur:
        found = {"analyst": add_principal(cur, f"console-analyst-{hub.database}", "analyst"),
                 "police": add_principal(cur, f"console-police-{hub.database}", "department",
                                         "police")}
    conn.close()
    return found


def ops_once_scraped(url: str, token: str, timeout: float = 60) -> dict[str, Any]:
    """/console/ops once Prometheus has scraped the finished merge (every event, lag 0)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{url}/console/ops", headers={"Authorization": f"Bearer {token}"},
                           timeout=30)
        assert answer.status_code == 200, answer.text
        ops = answer.json()
        if (ops["merged_total"] == SAMPLE_EVENTS and ops["lag"] == 0) \
                or time.monotonic() > deadline:
            return ops
        time.sleep(1)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def count(text: str) -> int | None:
    """A count cell's number; None where the small-cell rule withholds it."""
    return None if text == "withheld" else number(text)


def table(page: Any, testid: str, key: str, value: str) -> dict[str, int | None]:
    """Rows of a rendered table as {key cell's text: value cell's number, or None}."""
    return {row.locator(f"[data-col={key}]").inner_text():
            count(row.locator(f"[data-col={value}]").inner_text())
            for row in page.locator(f"[data-testid={testid}]").all()}


def test_the_console_shows_what_the_store_and_prometheus_hold(
        hub: HubSettings, metered_processor: subprocess.Popen, tmp_path: Path) -> None:
    loaded = subprocess.run([sys.executable, "-m", "cli.main", "grids", str(SAMPLE / "grids.csv")],
                            env=settings_env(hub), capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    with connector_metrics_served(hub), console_api(hub) as url:
        for department, name in EXPORTS:
            assert backfill_file(hub, department, SAMPLE / name, progress=False).reconciles
        wait_for_processor(hub, timeout=300)
        token = tokens(hub)

        assert httpx.get(f"{url}/console/ops").status_code == 401
        assert httpx.get(f"{url}/console/summary", headers={
            "Authorization": f"Bearer {token['police']}"}).status_code == 403
        ops = ops_once_scraped(url, token["police"])  # any principal sees the ops view
        assert ops["merged_total"] == SAMPLE_EVENTS and ops["lag"] == 0, ops
        screenshot = Path(os.environ.get("SANWANG_CONSOLE_SCREENSHOT",
                                         tmp_path / "console.png"))
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                _a_wrong_token_is_refused(browser.new_page(), url)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                _the_page_shows_the_store(page, hub, url, token["analyst"])
                _the_page_shows_prometheus(page)
                _population_drills_down(page, hub.small_cell_k)
                page.locator("#population-path button").first.click()
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
            finally:
                browser.close()
        assert screenshot.stat().st_size > 20_000
    assert metered_processor.poll() is None


def _a_wrong_token_is_refused(page: Any, url: str) -> None:
    page.goto(f"{url}/console#token=not-a-token")
    playwright.expect(page.locator("#message")).to_contain_text("401")
    assert page.locator("#ops").is_hidden() and page.locator("#signin").is_visible()


def _the_page_shows_the_store(page: Any, hub: HubSettings, url: str, token: str) -> None:
    page.goto(f"{url}/console#token={token}&purpose={quote(PURPOSE)}")
    page.wait_for_selector("body[data-analytics=ready]", timeout=60_000)
    assert "token" not in page.url  # taken from the fragment into sessionStorage
    assert page.evaluate("sessionStorage.getItem('sanwang.console.token')") == token

    assert table(page, "population-row", "area", "population") == dict(
        query(hub, "SELECT district, population FROM hub.population_by_district"))
    living = query(hub, "SELECT count(*) FROM hub.residents"
                        " WHERE life_status IS DISTINCT FROM 'deceased'")[0][0]
    total = number(page.inner_text("#population-total"))
    assert total == living
    assert number(page.inner_text("#population-placed")) \
        + number(page.inner_text("#population-unplaced")) == total

    findings = dict(query(hub, "SELECT kind, count(*) FROM hub.findings GROUP BY kind"))
    assert number(page.inner_text("#findings-total")) == sum(findings.values()) > 0
    shown = table(page, "finding-row", "kind", "count")
    assert {kind: n for kind, n in shown.items() if n} == findings
    conflicts = query(hub, "SELECT count(*) FROM hub.conflicts WHERE status = 'open'")[0][0]
    assert number(page.inner_text("#open-conflicts")) == conflicts
    audited = query(hub, "SELECT count(*) FROM hub.audit_log WHERE purpose = %s"
                         " AND action = 'findings'", (PURPOSE,))[0][0]
    assert audited >= 1  # the page read findings with its declared purpose


def _the_page_shows_prometheus(page: Any) -> None:
    page.wait_for_selector("body[data-ops=ready]")
    assert number(page.inner_text("#ops-merged-total")) == SAMPLE_EVENTS
    assert number(page.inner_text("#ops-consumed-total")) >= SAMPLE_EVENTS
    assert page.inner_text("#ops-lag") == "0"
    assert page.inner_text("#ops-p99") != "–"  # the sample was merged within the window
    states = {row.locator("[data-col=job]").inner_text(): row.locator(
        "[data-col=state]").inner_text() for row in page.locator("[data-testid=process-row]").all()}
    assert states["sanwang-processor"] == states["sanwang-connectors"] == "up", states
    # drawn; lines only where Prometheus saw a counter grow (this run may be too short for that)
    assert page.locator("#chart-throughput line.grid").count() == 5


def _population_drills_down(page: Any, k: int) -> None:
    """District -> township -> community -> grid by the first row; each level sums to its
    parent's population, less what the counts the small-cell rule withholds hold (below the
    township: shown as "withheld", never as 1..k, and never one alone)."""
    rows = page.locator("[data-testid=population-row]")
    for level in ("township", "community", "grid"):
        parent = count(rows.first.locator("[data-col=population]").inner_text())
        rows.first.click()
        playwright.expect(page.locator("#population-table")).to_have_attribute(
            "data-level", level)
        shown = list(table(page, "population-row", "area", "population").values())
        hidden = shown.count(None)
        if level != "township":
            assert not [n for n in shown if n is not None and 1 <= n <= k], shown
        if parent is not None:
            rest = parent - sum(n for n in shown if n is not None)
            assert (hidden, rest) == (0, 0) or (hidden >= 2 and rest >= 0), \
                (level, parent, shown)
