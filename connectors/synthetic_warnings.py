"""Early warnings planted in the synthetic city (`sanwang generate --plant-warnings`), so that
tests and demos can check the hub finds them (docs/indicators.md).

Two problems, each made of extra residents whose records are the departments' normal ones
(the same writers, dates spread over days, so they flow through the normal path):

- a surge (苗头性): SURGE floating residents register (流动人口登记) in one village's grid in the
  city's last month: the village's floating registrations jump;
- a trend (倾向性): in one township, residents registered since the 2015 baseline are granted
  低保 in rising numbers over the last TREND_MONTHS months (1, 2, ... a month): its new 低保
  climb, and with them the 低保 it holds.

warnings.csv lists what each plant should raise: level, unit_code, indicator, month, kind.
The planted residents are extra (beyond the city's `persons`); they neither move nor die.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from connectors.synthetic_model import END, Fate, Household, Person
from connectors.synthetic_people import Population
from connectors.synthetic_places import grid_reference

SURGE = 12  # floating registrations in the surge's month
TREND_MONTHS = 12  # the trend's months, ending with the last; month i grants i + 1 低保
WARNINGS_HEADER = ["level", "unit_code", "indicator", "month", "kind"]


@dataclass(frozen=True)
class PlantedWarning:
    """One row of warnings.csv: a warning the planted records should raise."""

    level: str
    unit_code: str
    indicator: str
    month: str
    kind: str  # incipient | trending

    def row(self) -> list[str]:
        return [self.level, self.unit_code, self.indicator, self.month, self.kind]


def _month_days(months_back: int) -> tuple[date, date]:
    """The first and last day of the month `months_back` before END's."""
    index = END.year * 12 + END.month - 1 - months_back
    first = date(index // 12, index % 12 + 1, 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, min(following - timedelta(days=1), END)


class Planter:
    """Chooses the surge's grid and the trend's township (by the seed) and makes the
    households that carry them; `planted` lists the warnings they should raise."""

    def __init__(self, seed: int, population: Population):
        rng = random.Random(f"sanwang-plant:{seed}")
        grids = grid_reference()
        self.population = population
        self.surge_grid = rng.choice(grids).code
        townships = sorted({g.code[:9] for g in grids if g.code[:9] != self.surge_grid[:9]})
        self.trend_township = rng.choice(townships)
        self.trend_grids = [g.code for g in grids if g.code.startswith(self.trend_township)]
        last = END.strftime("%Y-%m")
        self.planted = [
            PlantedWarning("community", self.surge_grid[:12], "floating_registrations", last,
                           "incipient"),
            PlantedWarning("township", self.trend_township, "dibao_new", last, "trending"),
            PlantedWarning("township", self.trend_township, "dibao_current", last, "trending"),
        ]

    def persons(self) -> Iterator[tuple[Person, Fate]]:
        """Each planted resident (not yet keyed) and what the departments know of them."""
        population = self.population
        first, last = _month_days(0)
        for _ in range(SURGE):
            home = population.dwelling(self.surge_grid)
            person = population.single(1970, 2002, home, "汉族", floating=True)
            person.home = home  # not a common name's village elsewhere
            person.registered = population.day(first, last)
            yield person, Fate()
        for i in range(TREND_MONTHS):
            first, last = _month_days(TREND_MONTHS - 1 - i)
            for _ in range(i + 1):
                home = population.dwelling(population.rng.choice(self.trend_grids))
                person = population.single(1950, 1990, home, "汉族")
                person.home = home
                yield person, Fate(dibao=population.day(first, last))


def planted_household(person: Person, fate: Fate) -> Household:
    """A planted resident living alone."""
    return Household([person], {person: fate})


def write_planted(path: Path, planted: list[PlantedWarning]) -> None:
    """warnings.csv: what the plants should raise."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(WARNINGS_HEADER)
        writer.writerows(w.row() for w in planted)
