"""A planted surge end to end: floating-population registrations of eight synthetic people in
one grid's last month, merged into the sample city, found by GET /warnings ranked first at the
grid level, and shown by the console's trends view in headless Chromium (the grid's chart of
that indicator marked, the warning listed with its explanation).

The screenshot goes to $SANWANG_TRENDS_SCREENSHOT, else into the test's temporary directory."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import playwright.sync_api as playwright
import psycopg2
from stdnum.cn import ric

from deploy import postgres
from deploy.settings import HubSettings
from streams.indicator_store import refresh_indicators
from streams.landing import ConsumedEvent, HubStore
from tests.integration.api_stack import (
    ANALYST,
    SAMPLE_LAST_MONTH,
    Served,
    add_principals,
    merge_sample,
    serving_api,
)
from tests.integration.conftest import query
from tests.integration.test_console import CHROMIUM, CHROMIUM_FLAGS
from tests.samples import mapping

SURGE = 8
INDICATOR = "floating_registrations"


def surge_events(address: str, month: str) -> list[dict]:
    """Eight synthetic floating residents registering at `address` in `month`."""
    events = []
    for n in range(SURGE):
        base = f"51180219{90 + n}0{n + 1}0{n + 1}77{n}"
        number = base + ric.calc_check_digit(base)
        row = {"变动流水号": f"GA{month.replace('-', '')}0999{n:04d}", "人员编号": f"RPLANT{n:04d}",
               "公民身份号码": number, "姓名": f"试验{'甲乙丙丁戊己庚辛'[n]}{'一二'[n % 2]}",
               "性别": "男" if n % 2 else "女", "民族": "汉族", "出生日期": number[6:10] + "-"
               + number[10:12] + "-" + number[12:14], "户籍地址": "四川省成都市武侯区玉林街道",
               "现住址": address, "联系电话": "", "人员类别": "流动人口",
               "变动类型": "流动人口登记", "变动日期": f"{month}-1{n}"}
        events.append(mapping("police")(row, {"file": "planted.csv", "line": n + 2}))
    return events


def planted_city(stack: HubSettings) -> tuple[HubSettings, str]:
    """The sample city with the surge planted at the busiest grid, refreshed; that grid."""
    settings = merge_sample(stack)
    grid, address = query(settings, "SELECT grid_code, min(residence_address) FROM hub.residents"
                                    " WHERE grid_code IS NOT NULL GROUP BY 1"
                                    " ORDER BY count(*) DESC, 1 LIMIT 1")[0]
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    store.apply([ConsumedEvent(e, "t", 0, i)
                 for i, e in enumerate(surge_events(address, SAMPLE_LAST_MONTH))])
    store.close()
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        refresh_indicators(cur, SAMPLE_LAST_MONTH, 36, settings.small_cell_k)
    conn.close()
    return settings, grid


def test_a_planted_surge_is_warned_first_and_shown_in_the_console(
        stack: HubSettings, tmp_path: Path) -> None:
    settings, grid = planted_city(stack)
    assert query(settings, "SELECT count(*) FROM hub.residents WHERE grid_code = %s AND"
                           " name LIKE '试验%%'", (grid,)) == [(SURGE,)]
    principals = add_principals(settings)
    with serving_api(settings) as url:
        api = Served(settings, url, principals)
        warnings = api.get("/warnings", ANALYST, level="grid", kind="incipient").json()
        assert (warnings[0]["unit_code"], warnings[0]["indicator"]) == (grid, INDICATOR)
        assert warnings[0]["value"] == SURGE and warnings[0]["month"] == SAMPLE_LAST_MONTH
        screenshot = Path(os.environ.get("SANWANG_TRENDS_SCREENSHOT",
                                         tmp_path / "trends.png"))
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                token = principals.tokens[ANALYST]
                page.goto(f"{url}/console#token={token}&purpose={quote('trends test')}")
                page.wait_for_selector("body[data-trends=ready]", timeout=60_000)
                rows = page.locator("[data-testid=warning-row]")
                first_grid = rows.filter(has_text=grid).first
                assert INDICATOR in first_grid.inner_text()
                assert "robust standard deviations" in first_grid.inner_text()
                first_grid.click()
                chart = page.locator(f"#trend-charts figure[data-indicator='{INDICATOR}']")
                chart.wait_for(timeout=30_000)
                assert "warned" in chart.get_attribute("class")
                assert chart.locator("figcaption").inner_text() == f"{INDICATOR}: {SURGE}"
                assert page.locator("#trends-unit").inner_text().endswith(f"grid {grid})")
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.locator("#trends").screenshot(path=str(screenshot))
            finally:
                browser.close()
        assert screenshot.stat().st_size > 10_000
