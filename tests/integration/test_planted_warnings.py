"""Warnings on generated cities: every surge and trend the generator plants (warnings.csv) is
found, its unit and indicator ranked first for its month and kind at its level; the same city
unplanted raises few (their rate per 1,000 unit-months is docs/indicators.md's)."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg2
import pytest

from connectors.file_backfill import source_for
from connectors.synthetic_city import generate_city
from connectors.synthetic_model import END
from connectors.synthetic_warnings import PlantedWarning
from deploy import postgres
from deploy.settings import HubSettings
from streams.early_warnings import EarlyWarning, early_warnings
from streams.grids import read_grids_csv, store_grids
from streams.indicator_store import StoredIndicators, refresh_indicators, stored_indicators
from streams.landing import ConsumedEvent, HubStore
from tests.integration.conftest import hub_settings
from tests.samples import EXPORTS

PERSONS, SEED = 2000, 19
LAST_MONTH = END.strftime("%Y-%m")
CHECKED_MONTHS = 12  # the unplanted city's months whose warnings are counted
MOST_PER_1000 = 2.0  # unit-months of the unplanted city


def merged_city(stack: HubSettings, city: Path) -> StoredIndicators:
    """A fresh database holding the city's grids and every record, merged and refreshed."""
    settings = hub_settings(stack)
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        store_grids(cur, read_grids_csv(city / "grids.csv"))
    conn.close()
    events = []
    for department, name in EXPORTS.items():
        read_from, to_event, _, _ = source_for(department, city / name)
        events += [to_event(r.columns, r.origin) for r in read_from(0)]
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    store.apply([ConsumedEvent(e, "t", 0, i) for i, e in enumerate(events)])
    store.close()
    conn = psycopg2.connect(postgres.dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        refresh_indicators(cur, LAST_MONTH, 36, settings.small_cell_k)
        stored = stored_indicators(cur)
    conn.close()
    assert stored is not None
    return stored


def planted(city: Path) -> list[PlantedWarning]:
    with open(city / "warnings.csv", encoding="utf-8") as file:
        return [PlantedWarning(**row) for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def planted_city(stack: HubSettings, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[StoredIndicators, list[PlantedWarning]]:
    city = tmp_path_factory.mktemp("planted")
    generate_city(PERSONS, SEED, city, plant_warnings=True)
    return merged_city(stack, city), planted(city)


def test_every_planted_warning_is_ranked_first_at_its_level(
        planted_city: tuple[StoredIndicators, list[PlantedWarning]]) -> None:
    stored, plants = planted_city
    assert {p.kind for p in plants} == {"incipient", "trending"}
    for plant in plants:
        found = early_warnings(stored.series, stored.months, stored.units, plant.month)
        same = [(w.unit_code, w.indicator) for w in found
                if w.kind == plant.kind and w.level == plant.level]
        # a unit's plants of one kind (new 低保 and the 低保 held) come first, in either order
        ours = {(p.unit_code, p.indicator) for p in plants
                if p.kind == plant.kind and p.level == plant.level}
        assert (plant.unit_code, plant.indicator) in same[:len(ours)], (plant, same[:5])


def unit_month_rate(stored: StoredIndicators, months: list[str]) -> tuple[int, int]:
    """Warnings raised over `months`, and the unit-months evaluated (every stored series)."""
    raised: list[EarlyWarning] = []
    for month in months:
        raised += early_warnings(stored.series, stored.months, stored.units, month)
    return len(raised), len(stored.series) * len(months)


def test_the_unplanted_city_raises_few_warnings(
        stack: HubSettings, tmp_path_factory: pytest.TempPathFactory) -> None:
    city = tmp_path_factory.mktemp("unplanted")
    generate_city(PERSONS, SEED, city)
    stored = merged_city(stack, city)
    raised, evaluated = unit_month_rate(stored, stored.months[-CHECKED_MONTHS:])
    print(f"unplanted: {raised} warnings in {evaluated} unit-months, "
          f"{1000 * raised / evaluated:.2f} per 1,000")
    assert evaluated > 10_000 and 1000 * raised / evaluated <= MOST_PER_1000
