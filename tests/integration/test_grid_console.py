"""The console's two sides of issue 20 in headless Chromium (Playwright driving Debian's
/usr/bin/chromium), over test_grid_reports' stack (the merged sample city, its API, a real
`sanwang process` worker): a grid worker reports a resident of their grid deceased through the
form and reads the report id (and the refusals' details: 403 outside their grid, 422 naming the
field); the processor opens a task for the police, whose console lists exactly that task; they
reject it there with a reason, and the store has it closed."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import playwright.sync_api as playwright

from tests.integration.api_stack import DEPARTMENTS, Served
from tests.integration.conftest import query
from tests.integration.test_console import CHROMIUM, CHROMIUM_FLAGS
from tests.integration.test_grid_reports import (  # noqa: F401 (served: a fixture)
    merged,
    residents_of,
    served,
    task_rows,
)

POLICE = DEPARTMENTS["police"]
PURPOSE = "verify grid reports"
OFFICER = "王警官"
REASON = "seen at the station on 2026-11-22"


def signed_in(browser: Any, api: Served, name: str) -> Any:
    """A page of its own (its own sessionStorage) signed in as `name`, with the purpose."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    token = api.principals.tokens[name]
    page.goto(f"{api.url}/console#token={token}&purpose={quote(PURPOSE)}")
    page.locator("#whoami").wait_for()
    return page


def send_report(page: Any, kind: str, **fields: str) -> Any:
    """Fill the form for `kind` with `fields`, send it; the answer's element, once answered."""
    form = page.locator("#report-form")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("[name=observed_on]").fill("2026-11-20")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    answer = page.locator("[data-testid=report-answer]")
    answer.evaluate("node => { node.textContent = ''; }")
    form.locator("button[type=submit]").click()
    playwright.expect(answer).not_to_have_text(re.compile(r"^(|sending…)$"))
    return answer


def test_a_report_sent_from_the_console_is_a_task_the_police_reject_there(
        served: Served) -> None:  # noqa: F811 (the fixture)
    gw1, gw2 = served.grid_workers
    resident = residents_of(served, gw1)[0]
    elsewhere = residents_of(served, gw2)[0]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            worker = signed_in(browser, served, gw1)
            worker.locator("#report-form").wait_for()
            assert worker.locator("#tasks").is_hidden()
            worker.locator("select[name=kind]").select_option("moved_in")
            grids = worker.locator("select[name=grid_code] option").all_inner_texts()
            assert grids == list(served.principals.grids[gw1])
            assert worker.locator("[name=resident_id]").is_hidden()

            answer = send_report(worker, "deceased", resident_id=elsewhere, died_on="2026-11-18")
            assert "403" in answer.inner_text() and elsewhere in answer.inner_text()
            answer = send_report(worker, "deceased", resident_id=resident, died_on="")
            assert "422" in answer.inner_text() and "died_on" in answer.inner_text()
            answer = send_report(worker, "deceased", resident_id=resident, died_on="2026-11-18")
            report_id = answer.get_attribute("data-report-id")
            assert report_id and report_id in answer.inner_text(), answer.inner_text()
            assert query(served.settings, "SELECT resident_id, principal FROM hub.grid_reports"
                                          " WHERE kind = 'deceased'") == [(resident, gw1)]

            assert merged(served, report_id) == resident
            assert task_rows(served, report_id) == [("police", "deceased", "open")]
            [(task_id,)] = query(served.settings, "SELECT task_id FROM hub.verification_tasks"
                                                  " WHERE report_ref LIKE %s", (f"%:{report_id}",))

            police = signed_in(browser, served, POLICE)
            police.wait_for_selector("body[data-tasks=ready]")
            assert police.locator("#report").is_hidden()
            rows = police.locator("[data-testid=task-row]")
            assert [r.get_attribute("data-task-id") for r in rows.all()] == [task_id]
            assert rows.first.locator("[data-col=resident]").inner_text() == resident
            assert rows.first.locator("[data-col=by]").inner_text() == gw1
            police.fill("#officer", OFFICER)
            police.once("dialog", lambda dialog: dialog.accept(REASON))
            rows.first.locator("button[data-decision=rejected]").click()
            playwright.expect(police.locator("#message")).to_contain_text(
                f"{task_id} rejected by {OFFICER}")
            playwright.expect(rows).to_have_count(0)
        finally:
            browser.close()
    assert query(served.settings, "SELECT status, reason, closed_by, closed_principal"
                                  " FROM hub.verification_tasks WHERE task_id = %s",
                 (task_id,)) == [("rejected", REASON, OFFICER, POLICE)]
    assert query(served.settings, "SELECT life_status FROM hub.residents WHERE resident_id = %s",
                 (resident,)) == [("alive",)]
