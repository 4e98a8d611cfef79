"""Monthly indicators from residents' timelines: each indicator's rule on hand-made residents,
and the roll-up up the four grid levels."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streams.findings import KINDS
from streams.grid_units import GridRow, ancestors, units_of
from streams.indicators import (
    INDICATORS,
    Fact,
    Place,
    Timeline,
    grid_counts,
    month_of,
    months_through,
    roll_up,
)

A, B = "51180200100101", "51180200100102"  # two grids of one community
C = "51180200200101"  # a grid of another township
MONTHS = months_through("2026-06", 6)
ROWS = [GridRow(A, "雨城区", "东城街道", "金鸡社区", "第一网格"),
        GridRow(B, "雨城区", "东城街道", "金鸡社区", "第二网格"),
        GridRow(C, "雨城区", "西城街道", "桥头社区", "第一网格")]


def counts(*timelines: Timeline) -> dict[tuple[str, str, str], int]:
    return {k: v for k, v in grid_counts(timelines, MONTHS).items() if v}


def series(found: dict, grid: str, indicator: str) -> list[int]:
    return [found.get((grid, indicator, m), 0) for m in MONTHS]


def test_months_and_partial_dates() -> None:
    assert MONTHS == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert months_through("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert month_of("2026-03-05T10:00:00+08:00") == "2026-03"
    assert month_of("2026") is None and month_of("2026", True) == "2026-01"
    assert month_of(None) is None and month_of("") is None


def test_every_findings_kind_is_an_indicator() -> None:
    assert {f"finding:{k}" for k in KINDS} <= set(INDICATORS)


def test_population_follows_residence_birth_and_death() -> None:
    mover = Timeline("R1", "1990-05-01",
                     (Place("2020-01-01", A, "a1"), Place("2026-03-10", B, "b1")), ())
    baby = Timeline("R2", "2026-02-14", (Place("2026-02-20", A, "a2"),), ())
    dead = Timeline("R3", "1950-01-01", (Place("2010-01-01", A, "a3"),),
                    (Fact("life_status", "deceased", "2026-04-02"),
                     Fact("life_status", "alive", "2010-01-01")))
    found = counts(mover, baby, dead)
    assert series(found, A, "population") == [2, 3, 2, 1, 1, 1]  # R3 dies in April
    assert series(found, B, "population") == [0, 0, 1, 1, 1, 1]
    assert series(found, A, "moves_out") == [0, 0, 1, 0, 0, 0]
    assert series(found, B, "moves_in") == [0, 0, 1, 0, 0, 0]
    assert series(found, A, "births") == [0, 1, 0, 0, 0, 0]
    assert series(found, A, "deaths") == [0, 0, 0, 1, 0, 0]


def test_fact_flows_count_each_resident_once_a_month() -> None:
    timeline = Timeline("R1", "1980", (Place("2015-01-01", A, "a1"),), (
        Fact("population_type", "floating", "2026-01-05"),
        Fact("population_type", "registered", "2026-02-05"),
        Fact("residence_permit", "issued", "2026-03-01"),
        Fact("employment", "某公司", "2026-03-02"), Fact("employment", "某厂", "2026-03-20"),
        Fact("pension", {"status": "active", "monthly": 2000}, "2026-04-01T09:00:00+08:00"),
        Fact("pension", {"status": "stopped", "reason": "死亡"}, "2026-05-01"),
        Fact("dibao", {"monthly": 700}, "2026-02-10"),
        Fact("dibao", {"monthly": 720}, "2026-05-10")),
        findings=(("dibao_with_employment", "2026-03-02"),), conflicts_opened=("2026-06",))
    found = counts(timeline)
    assert series(found, A, "floating_registrations") == [1, 0, 0, 0, 0, 0]
    assert series(found, A, "residence_permits") == [0, 0, 1, 0, 0, 0]
    assert series(found, A, "employment_new") == [0, 0, 1, 0, 0, 0]
    assert series(found, A, "pensions_started") == [0, 0, 0, 1, 0, 0]
    assert series(found, A, "pensions_stopped") == [0, 0, 0, 0, 1, 0]
    assert series(found, A, "dibao_new") == [0, 1, 0, 0, 0, 0]
    assert series(found, A, "dibao_current") == [0, 1, 1, 1, 1, 1]
    assert series(found, A, "finding:dibao_with_employment") == [0, 0, 1, 0, 0, 0]
    assert series(found, A, "conflicts_opened") == [0, 0, 0, 0, 0, 1]
    assert series(found, A, "births") == [0] * 6  # a bare birth year has no month


def test_elderly_and_living_alone() -> None:
    alone = Timeline("R1", "1946-03-15", (Place("2000-01-01", A, "a1"),), ())
    couple = [Timeline(f"R{i}", "1940-01-01", (Place("2000-01-01", A, "a2"),), ())
              for i in (2, 3)]
    young_with_old = [Timeline("R4", "1930-01-01", (Place("2000-01-01", B, "b1"),), ()),
                      Timeline("R5", "2000-01-01", (Place("2026-04-01", B, "b1"),), ())]
    found = counts(alone, *couple, *young_with_old)
    assert series(found, A, "elderly_80") == [2, 2, 3, 3, 3, 3]  # R1 turns 80 in March
    assert series(found, A, "elderly_alone") == [0, 0, 1, 1, 1, 1]
    assert series(found, B, "elderly_alone") == [1, 1, 1, 0, 0, 0]  # until R5 moves in


_PLACES = st.lists(st.tuples(st.sampled_from(["2025-11-01", "2026-02-10", "2026-04-01"]),
                             st.sampled_from([A, B]), st.sampled_from(["d1", "d2", "d3"])),
                   min_size=1, max_size=3, unique_by=lambda p: p[0])
_TIMELINES = st.lists(st.tuples(st.sampled_from(["1930-05-01", "1946-03-15", "1990-01-01"]),
                                st.sampled_from([None, "2026-03-02", "2026-05-20"]), _PLACES),
                      max_size=8).map(lambda drawn: [
    Timeline(f"R{i}", birth, tuple(Place(*p) for p in sorted(places)),
             (Fact("life_status", "deceased", death),) if death else ())
    for i, (birth, death, places) in enumerate(drawn)])


@given(_TIMELINES, st.randoms())
def test_living_alone_is_one_living_resident_in_the_dwelling_that_month(
        timelines: list[Timeline], rnd) -> None:
    """elderly_alone against its definition, counted by hand month by month; in any order."""
    found = counts(*timelines)
    shuffled = list(timelines)
    rnd.shuffle(shuffled)
    assert counts(*shuffled) == found

    def where(t: Timeline, month: str) -> Place | None:
        return max((p for p in t.places if p.since[:7] <= month), default=None,
                   key=lambda p: p.since)

    for month in MONTHS:
        living = [t for t in timelines if where(t, month)
                  and not (t.facts and t.facts[0].valid_from[:7] <= month)]
        dwellers = Counter(where(t, month).dwelling for t in living)
        for grid in (A, B):
            alone = [t for t in living if where(t, month).grid == grid
                     and int(month[:4]) * 12 + int(month[5:]) >= int(t.birth_date[:4]) * 12
                     + int(t.birth_date[5:7]) + 80 * 12
                     and dwellers[where(t, month).dwelling] == 1]
            assert found.get((grid, "elderly_alone", month), 0) == len(alone)


def test_unplaced_residents_count_nowhere() -> None:
    found = counts(Timeline("R1", "2026-02-01", (Place("2026-02-01", None, None),), ()))
    assert found == {}


def test_units_and_parents() -> None:
    units = units_of(ROWS)
    assert units["grid", A].name == "金鸡社区第一网格" and units["grid", A].parent == A[:12]
    assert units["community", A[:12]].parent == A[:9]
    assert units["township", C[:9]].name == "雨城区西城街道"
    assert units["district", A[:6]].parent is None
    assert len(units) == 3 + 2 + 2 + 1


@given(st.lists(st.tuples(st.sampled_from([A, B, C, "99999999999999"]),
                          st.sampled_from(sorted(INDICATORS)), st.sampled_from(MONTHS),
                          st.integers(1, 50)), max_size=40))
def test_roll_up_sums_each_level_to_the_same_total(cells: list) -> None:
    grid: Counter = Counter()
    for code, indicator, month, value in cells:
        grid[code, indicator, month] += value
    totals = roll_up(grid, units_of(ROWS))
    known = sum(v for (code, *_), v in grid.items() if code != "99999999999999")
    for level in ("district", "township", "community", "grid"):
        assert sum(v for k, v in totals.items() if k[0] == level) == known
    for (code, indicator, month), value in grid.items():
        if code != "99999999999999":
            for level, unit in ancestors(code):
                assert totals[level, unit, indicator, month] >= value
