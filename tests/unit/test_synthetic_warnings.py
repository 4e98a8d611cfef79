"""The generator's planted warnings (`--plant-warnings`): extra residents whose departments'
records carry a surge and a trend, listed in warnings.csv; off, the city has no such file."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from connectors.synthetic_city import _City, generate_city, noise_level
from connectors.synthetic_model import Household
from connectors.synthetic_warnings import SURGE, TREND_MONTHS

PERSONS, SEED = 300, 5


def planted_households() -> tuple[_City, list[Household]]:
    city = _City(PERSONS, SEED, noise_level(1), plant_warnings=True)
    households = list(city.households())
    return city, [h for h in households if h.members[0].key >= f"T{PERSONS:07d}"]


def test_the_surge_is_floating_registrations_in_one_village_in_the_last_month() -> None:
    city, planted = planted_households()
    assert city.planter is not None
    village = city.planter.surge_grid[:12]
    registrations = [r for h in planted for r in h.records if r.kind == "流动人口登记"]
    assert len(registrations) == SURGE
    assert {(r.day.strftime("%Y-%m"), r.community) for r in registrations} == {
        ("2026-10", village)}
    assert len({r.day for r in registrations}) > 1  # spread over days


def test_the_trend_is_rising_new_dibao_in_one_township() -> None:
    city, planted = planted_households()
    assert city.planter is not None
    grants = [(r.day.strftime("%Y-%m"), r.person.home.grid[:9])
              for h in planted for r in h.records if r.kind == "低保认定"]
    assert {township for _, township in grants} == {city.planter.trend_township}
    by_month = Counter(month for month, _ in grants)
    assert [by_month[m] for m in sorted(by_month)] == list(range(1, TREND_MONTHS + 1))
    assert min(by_month) == "2025-11"


def test_warnings_csv_lists_the_plants_only_when_asked(tmp_path: Path) -> None:
    stats = generate_city(PERSONS, SEED, tmp_path / "planted", plant_warnings=True)
    with open(tmp_path / "planted" / "warnings.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(r["level"], r["indicator"], r["kind"]) for r in rows] == [
        ("community", "floating_registrations", "incipient"),
        ("township", "dibao_new", "trending"), ("township", "dibao_current", "trending")]
    assert stats.persons == PERSONS + SURGE + TREND_MONTHS * (TREND_MONTHS + 1) // 2
    stats = generate_city(PERSONS, SEED, tmp_path / "plain")
    assert stats.persons == PERSONS and not (tmp_path / "plain" / "warnings.csv").exists()
