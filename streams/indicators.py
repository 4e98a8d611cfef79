"""Monthly indicators of every grid unit, by valid time (when a fact happened, not when it
arrived), from each resident's timeline (pure).

Every indicator is named once, in INDICATORS. A *flow* counts residents to whom something
happened in the month (one each per unit and month); a *stock* counts the living residents
placed in the unit at the month's end. A resident is placed where their residence address of
that time lies (the latest residence fact at or before the month's end); a fact happens where its
resident was placed then (or, before any residence fact, at their first residence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.findings import KINDS
from streams.grid_units import Unit, ancestors

INDICATORS: dict[str, str] = {
    "population": "living residents placed in the unit at the month's end (stock)",
    "births": "residents born in the month",
    "deaths": "residents who died in the month (the earliest death any department records)",
    "moves_in": "residents whose new residence in the month lies in the unit, coming from "
                "another unit",
    "moves_out": "residents whose residence in the month moved from the unit to another",
    "floating_registrations": "floating-population (流动人口) registrations in the month",
    "residence_permits": "residence permits (居住证) issued in the month",
    "dibao_new": "residents granted 低保 for the first time in the month",
    "dibao_current": "living residents who hold 低保 at the month's end (stock)",
    "elderly_80": "living residents aged 80 or older at the month's end (stock)",
    "elderly_alone": "of those, the ones no other living resident shares a dwelling with (stock)",
    "employment_new": "new employment registrations in the month",
    "pensions_started": "pensions started in the month",
    "pensions_stopped": "pensions stopped in the month",
    "conflicts_opened": "conflicts between departments opened in the month (when the hub "
                        "found them: a conflict has no valid time of its own)",
    **{f"finding:{kind}": f"residents whose finding '{kind}' began in the month"
       for kind in KINDS},
}
FACT_FLOWS = {  # (attribute, the value's status or None) -> indicator
    ("population_type", "floating"): "floating_registrations",
    ("residence_permit", None): "residence_permits",
    ("employment", None): "employment_new",
    ("pension", "active"): "pensions_started",
    ("pension", "stopped"): "pensions_stopped",
}
ELDERLY_MONTHS = 80 * 12


@dataclass(frozen=True)
class Place:
    """Where a resident lived from a time on: its grid and dwelling (None: unplaced)."""

    since: str
    grid: str | None
    dwelling: str | None


@dataclass(frozen=True)
class Fact:
    attribute: str
    value: Any
    valid_from: str


@dataclass(frozen=True)
class Timeline:
    """What the indicators need of one resident: places, facts, findings and conflicts."""

    resident_id: str
    birth_date: str | None
    places: tuple[Place, ...]  # by `since`
    facts: tuple[Fact, ...]
    findings: tuple[tuple[str, str], ...] = ()  # (kind, since)
    conflicts_opened: tuple[str, ...] = ()  # months (YYYY-MM)


def month_of(when: str | None, year_only_as_january: bool = False) -> str | None:
    """YYYY-MM of a valid time; a bare year counts as January only where asked (stocks)."""
    if not when or len(when) < 4 or not when[:4].isdigit():
        return None
    if len(when) >= 7 and when[4] == "-" and when[5:7].isdigit():
        return when[:7]
    return f"{when[:4]}-01" if year_only_as_january else None


def month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_at(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_through(last: str, count: int) -> list[str]:
    """The `count` months ending with `last`, oldest first."""
    end = month_index(last)
    return [month_at(i) for i in range(end - count + 1, end + 1)]


def _status(value: Any) -> Any:
    return value.get("status") if isinstance(value, dict) else value


def _earliest(timeline: Timeline, attribute: str, value: Any = None) -> str | None:
    times = [f.valid_from for f in timeline.facts if f.attribute == attribute and f.valid_from
             and (value is None or f.value == value)]
    return min(times, default=None)


class _Resident:
    """One timeline's months: where it was placed and whether it lived."""

    def __init__(self, timeline: Timeline) -> None:
        self.places = [(month_of(p.since, True) or "", p) for p in timeline.places]
        self.born = month_of(timeline.birth_date, True)
        self.death = _earliest(timeline, "life_status", "deceased")
        self.died = month_of(self.death, True)
        self.dibao = _earliest(timeline, "dibao")
        self.dibao_since = month_of(self.dibao, True)

    def place(self, month: str) -> Place | None:
        found = None
        for since, place in self.places:
            if since > month:
                break
            found = place
        return found

    def grid(self, month: str) -> str | None:
        place = self.place(month) or (self.places[0][1] if self.places else None)
        return place.grid if place else None

    def living(self, month: str) -> bool:
        return ((self.born is None or self.born <= month)
                and (self.died is None or self.died > month))

    def elderly(self, month: str) -> bool:
        return self.born is not None and month_index(self.born) + ELDERLY_MONTHS <= month_index(
            month)


def _flows(timeline: Timeline, resident: _Resident, window: set[str]) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str | None, str | None]] = set()
    born = month_of(timeline.birth_date)
    found.add(("births", born, born and resident.grid(born)))
    died = month_of(resident.death)
    found.add(("deaths", died, died and resident.grid(died)))
    for (_, before), (month, after) in zip(resident.places, resident.places[1:], strict=False):
        if before.grid != after.grid:
            found.add(("moves_out", month, before.grid))
            found.add(("moves_in", month, after.grid))
    granted = month_of(resident.dibao)
    found.add(("dibao_new", granted, granted and resident.grid(granted)))
    for fact in timeline.facts:
        indicator = (FACT_FLOWS.get((fact.attribute, _status(fact.value)))
                     or FACT_FLOWS.get((fact.attribute, None)))
        month = month_of(fact.valid_from)
        if indicator and month:
            found.add((indicator, month, resident.grid(month)))
    for kind, since in timeline.findings:
        month = month_of(since)
        found.add((f"finding:{kind}", month, month and resident.grid(month)))
    for month in timeline.conflicts_opened:
        found.add(("conflicts_opened", month, resident.grid(month)))
    return {(g, i, m) for i, m, g in found if g and m in window}


Cell = tuple[str, str, str]  # (grid code, indicator, month)


def grid_counts(timelines: Iterable[Timeline], months: list[str],
                counted: dict[Cell, set[str]] | None = None) -> Counter[Cell]:
    """Each indicator's count by (grid code, indicator, month), over `months`; with `counted`,
    also which residents each count counts (the records behind a warning). Timelines are read
    once, one at a time: what is kept across them is the counts, two month bitsets a dwelling
    and one per elderly resident, never a timeline."""
    counts: Counter[Cell] = Counter()
    window = set(months)
    dwelt = _Dwellings()
    elderly: dict[tuple[str, str, str], int] = {}  # (grid, dwelling, resident) -> month bits

    def add(cells: Iterable[Cell], resident_id: str) -> None:
        counts.update(cells)
        if counted is not None:
            for cell in cells:
                counted.setdefault(cell, set()).add(resident_id)

    for timeline in timelines:
        resident, who = _Resident(timeline), timeline.resident_id
        add(_flows(timeline, resident, window), who)
        for bit, month in enumerate(months):
            place = resident.place(month)
            if place is None or not resident.living(month):
                continue
            if place.dwelling:
                dwelt.add(place.dwelling, bit)
            if place.grid is None:
                continue
            stocks = [(place.grid, "population", month)]
            if resident.dibao_since and resident.dibao_since <= month:
                stocks.append((place.grid, "dibao_current", month))
            if resident.elderly(month):
                stocks.append((place.grid, "elderly_80", month))
                if place.dwelling:
                    key = (place.grid, place.dwelling, who)
                    elderly[key] = elderly.get(key, 0) | 1 << bit
            add(stocks, who)
    for (grid, dwelling, who), bits in elderly.items():
        alone = bits & ~dwelt.shared(dwelling)
        add([(grid, "elderly_alone", m) for bit, m in enumerate(months) if alone >> bit & 1],
            who)
    return counts


class _Dwellings:
    """Which months each dwelling had one living resident, and which more than one, as two
    bitsets of the window's months: a few bytes a dwelling instead of one counter a month."""

    def __init__(self) -> None:
        self._bits: dict[str, tuple[int, int]] = {}  # dwelling -> (some, shared)

    def add(self, dwelling: str, bit: int) -> None:
        some, shared = self._bits.get(dwelling, (0, 0))
        self._bits[dwelling] = (some | 1 << bit, shared | (some & 1 << bit))

    def shared(self, dwelling: str) -> int:
        return self._bits.get(dwelling, (0, 0))[1]


def counted_residents(timelines: Iterable[Timeline], unit_code: str, indicator: str,
                      month: str) -> set[str]:
    """The residents a unit's count of `indicator` in `month` counts (a unit's code begins
    every grid code under it)."""
    counted: dict[Cell, set[str]] = {}
    grid_counts(timelines, [month], counted)
    return {who for (grid, name, _), residents in counted.items()
            if name == indicator and grid.startswith(unit_code) for who in residents}


def roll_up(counts: Counter[tuple[str, str, str]], units: dict[tuple[str, str], Unit]
            ) -> Counter[tuple[str, str, str, str]]:
    """Grid counts summed up the four levels: (level, unit code, indicator, month) -> count.
    Grids the reference does not hold are left out."""
    totals: Counter[tuple[str, str, str, str]] = Counter()
    for (grid, indicator, month), value in counts.items():
        if ("grid", grid) not in units:
            continue
        for level, code in ancestors(grid):
            totals[level, code, indicator, month] += value
    return totals
