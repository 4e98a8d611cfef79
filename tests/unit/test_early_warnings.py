"""Early warnings on synthetic monthly counts: planted surges, trends and shared moves are found
and ranked first for their month; an unplanted city raises few (the rate is printed, -s)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.early_warnings import MIN_COUNT, EarlyWarning, early_warnings
from streams.grid_units import GridRow, units_of
from streams.indicators import months_through, roll_up
from streams.robust import mann_kendall_z, robust_z, theil_sen

MONTHS = months_through("2026-12", 24)
RATES = {"births": 1.0, "floating_registrations": 3.0, "moves_in": 6.0}  # a month, per grid
GRIDS = [f"51180{d}00{t}00{c}0{g}" for d in (1, 2) for t in (1, 2, 3) for c in (1, 2, 3, 4)
         for g in (1, 2, 3, 4, 5)]
UNITS = units_of(GridRow(g, f"区{g[5]}", f"镇{g[8]}", f"村{g[11]}", f"网格{g[13]}") for g in GRIDS)
SURGE_GRID, TREND_GRID, SHARED_COMMUNITY = GRIDS[7], GRIDS[33], GRIDS[80][:12]


def poisson(rng: random.Random, rate: float) -> int:
    """Knuth's method: fine for the small rates here."""
    limit, k, p = math.exp(-rate), 0, rng.random()
    while p > limit:
        k, p = k + 1, p * rng.random()
    return k


def city(seed: int, plant: bool) -> dict[tuple[str, str, str], list[float]]:
    """Each unit's series (rolled up from the grids'); with `plant`: a surge of floating
    registrations in one grid in the last month, a rise of moves in over the last year in
    another, and a surge of births shared by most grids of one community."""
    rng = random.Random(seed)
    grid: Counter = Counter()
    for code in GRIDS:
        for indicator, rate in RATES.items():
            for i, month in enumerate(MONTHS):
                boost = 0.0
                if plant and code == SURGE_GRID and indicator == "floating_registrations":
                    boost = 20.0 if i == len(MONTHS) - 1 else 0.0
                if plant and code == TREND_GRID and indicator == "moves_in" and i >= 12:
                    boost = 1.5 * (i - 11)
                if (plant and code.startswith(SHARED_COMMUNITY) and indicator == "births"
                        and i == len(MONTHS) - 1):
                    boost = 5.0
                grid[code, indicator, month] = poisson(rng, rate + boost)
    totals = roll_up(grid, UNITS)
    return {(level, code, indicator): [totals[level, code, indicator, m] for m in MONTHS]
            for level, code in UNITS for indicator in RATES}


def first(warnings: list[EarlyWarning], kind: str, level: str) -> EarlyWarning:
    """The strongest warning of a kind at a level (what an analyst at that level reads first)."""
    return next(w for w in warnings if w.kind == kind and w.level == level)


@pytest.mark.parametrize("seed", range(5))
def test_planted_surge_trend_and_shared_move_are_ranked_first(seed: int) -> None:
    warnings = early_warnings(city(seed, plant=True), MONTHS, UNITS)
    surge = first(warnings, "incipient", "grid")
    assert (surge.level, surge.unit_code, surge.indicator) == (
        "grid", SURGE_GRID, "floating_registrations"), warnings
    assert surge.month == "2026-12" and surge.expected is not None
    assert surge.value >= surge.expected + MIN_COUNT
    assert "median of its previous 12 months" in surge.explanation
    trend = first(warnings, "trending", "grid")
    assert (trend.unit_code, trend.indicator) == (TREND_GRID, "moves_in")
    assert "rose" in trend.explanation
    shared = first(warnings, "widespread", "community")
    assert (shared.level, shared.unit_code, shared.indicator) == (
        "community", SHARED_COMMUNITY, "births")
    # a shared move is not any one grid's own
    assert not [w for w in warnings if w.kind == "incipient" and w.indicator == "births"
                and w.unit_code.startswith(SHARED_COMMUNITY) and w.level == "grid"]


def test_false_alarms_per_thousand_unit_months_on_an_unplanted_city() -> None:
    alarms: Counter = Counter()
    unit_months = 0
    for seed in range(3):
        series = city(100 + seed, plant=False)
        for month in MONTHS[12:]:
            alarms.update(w.kind for w in early_warnings(series, MONTHS, UNITS, month))
            unit_months += len(series)
    rates = {kind: 1000 * alarms[kind] / unit_months
             for kind in ("incipient", "trending", "widespread")}
    print(f"false alarms per 1,000 unit-months ({unit_months}): {rates}")
    assert all(rate < 1.0 for rate in rates.values()), rates


def test_a_small_count_is_no_alarm_and_small_cells_are_withheld() -> None:
    quiet = {("grid", GRIDS[0], "births"): [0.0] * 23 + [MIN_COUNT - 1]}
    assert early_warnings(quiet, MONTHS, UNITS) == []
    loud = {("grid", GRIDS[0], "births"): [0.0, 1.0] * 11 + [0.0, 9.0]}
    (warning,) = early_warnings(loud, MONTHS, UNITS, small_cell_k=3)
    assert warning.expected is None and "against a usual 1-3" in warning.explanation
    (open_,) = early_warnings(loud, MONTHS, UNITS)
    assert open_.expected == 0.5 and open_.value == 9.0


def test_a_count_the_store_withheld_is_withheld_in_its_warning() -> None:
    """A second cell the small-cell rule withheld (more than k) is no number in a warning."""
    loud = {("grid", GRIDS[0], "births"): [0.0, 1.0] * 11 + [0.0, 9.0]}
    (warning,) = early_warnings(loud, MONTHS, UNITS, small_cell_k=3,
                                withheld=frozenset({("grid", GRIDS[0], "births", MONTHS[-1])}))
    assert warning.value is None and warning.explanation.startswith("withheld in ")
    (other_month,) = early_warnings(loud, MONTHS, UNITS, small_cell_k=3,
                                    withheld=frozenset({("grid", GRIDS[0], "births",
                                                         MONTHS[-2])}))
    assert other_month.value == 9.0


def test_a_falling_series_is_a_falling_trend() -> None:
    falling = {("township", GRIDS[0][:9], "moves_in"): [60.0 - 3 * i for i in range(24)]}
    (warning,) = early_warnings(falling, MONTHS, UNITS)
    assert warning.kind == "trending" and "fell" in warning.explanation


@given(st.lists(st.integers(0, 1000), min_size=6, max_size=12), st.integers(-50, 50),
       st.integers(1, 5))
def test_robust_statistics_follow_shifts_and_scales(values: list[int], shift: int,
                                                    scale: int) -> None:
    slope, intercept = theil_sen(values)
    moved_slope, moved_intercept = theil_sen([scale * v + shift for v in values])
    assert moved_slope == pytest.approx(scale * slope)
    assert moved_intercept == pytest.approx(scale * intercept + shift)
    assert mann_kendall_z(values) == pytest.approx(mann_kendall_z([v * scale for v in values]))
    assert mann_kendall_z(values[::-1]) == pytest.approx(-mann_kendall_z(values))


@given(st.lists(st.integers(0, 100), min_size=6, max_size=12), st.integers(0, 1000))
def test_one_wild_month_does_not_move_the_line_much(values: list[int], wild: int) -> None:
    line = [3.0 * i + 10 for i in range(len(values))]
    slope, _ = theil_sen([*line[:-1], float(wild)])
    assert slope == pytest.approx(3.0, abs=3.0 * 2)
    assert theil_sen(line) == pytest.approx((3.0, 10.0))
    assert robust_z([5.0] * 12, 5.0 + 3 * math.sqrt(5))[0] == pytest.approx(3.0)
