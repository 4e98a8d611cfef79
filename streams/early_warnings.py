"""Early warnings from the monthly indicators (pure), each explained in numbers:

- incipient (苗头性): a unit's month far above its own usual level (robust z against the median
  and MAD of its previous 12 months) and above its peers' moves that month (the other units of
  its level under the same parent), with at least MIN_COUNT, so that 0 -> 2 is no alarm;
- trending (倾向性): a sustained rise or fall over the last 6 to 12 months (Mann-Kendall test),
  sized by its Theil-Sen slope relative to the series' level, ranked by that size;
- widespread (普遍性): a move of a parent unit that most of its active children share, told
  apart from one unit's own (which the peer condition of the incipient warning keeps).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from streams.grid_units import BELOW_TOWNSHIP, LEVELS, Unit
from streams.robust import mann_kendall_z, robust_z, theil_sen

BASELINE_MONTHS = 12
MIN_BASELINE_MONTHS = 6
MIN_COUNT = 5  # an incipient warning's least value; a trend's least change over its window
SURGE_Z = 4.5  # robust z a surge must reach, beyond its peers' median z too
TREND_MONTHS = 12
MIN_TREND_MONTHS = 6
TREND_Z = 2.58  # Mann-Kendall z: 1 % two-sided
MIN_TREND_CHANGE = 0.25  # the fitted change over the window, relative to the series' median
TREND_SPREADS = 3.0  # and in Poisson spreads of the median: a count's noise is no trend
SHARED_Z = 2.0  # a child unit moving with its parent
SHARED_SHARE = 0.6  # "most": the share of active children that move with the parent
MIN_ACTIVE_CHILDREN = 3

KINDS = ("incipient", "trending", "widespread")
Key = tuple[str, str, str]  # (level, unit code, indicator)
QUIET = (0.0, 0.0, 0.0)  # robust z, median and MAD of a series of zeros


@dataclass(frozen=True)
class EarlyWarning:
    kind: str  # incipient | trending | widespread
    level: str
    unit_code: str
    unit_name: str
    indicator: str
    month: str
    value: float | None  # None: a small count withheld
    expected: float | None
    score: float
    explanation: str


class _Shown:
    """Counts as an analyst may see them: below the township level a count 1..k is withheld,
    and so is each cell the store's small-cell rule withheld (hub.withheld_cells: also the
    second cells that keep the first from being worked out)."""

    def __init__(self, k: int, withheld: frozenset[tuple[str, str, str, str]]) -> None:
        self.k = k
        self.withheld = withheld

    def hidden(self, level: str, value: float) -> bool:
        return level in BELOW_TOWNSHIP and 0 < value <= self.k

    def number(self, level: str, value: float) -> float | None:
        return None if self.hidden(level, value) else round(value, 2)

    def text(self, level: str, value: float) -> str:
        return f"1-{self.k}" if self.hidden(level, value) else f"{value:g}"

    def cell(self, key: Key, month: str, value: float) -> float | None:
        """A unit's count of one month (a cell of hub.indicators)."""
        return None if (*key, month) in self.withheld else self.number(key[0], value)

    def cell_text(self, key: Key, month: str, value: float) -> str:
        return "withheld" if (*key, month) in self.withheld else self.text(key[0], value)


def early_warnings(series: Mapping[Key, Sequence[float]], months: Sequence[str],
                   units: Mapping[tuple[str, str], Unit], month: str | None = None,
                   small_cell_k: int = 0,
                   withheld: frozenset[tuple[str, str, str, str]] = frozenset()
                   ) -> list[EarlyWarning]:
    """Every warning for `month` (default: the last): by kind, then level from the district
    down, strongest first. A move most of a unit's children share is its widespread warning,
    neither its own incipient one nor its children's.
    `series`: each unit's indicator, one value per month of `months` (zeros included);
    `withheld`: (level, unit code, indicator, month) of the cells the small-cell rule withheld."""
    at = months.index(month) if month else len(months) - 1
    shown = _Shown(small_cell_k, withheld)
    zs = {key: _z(values, at) for key, values in series.items()}
    children: dict[tuple[str, str, str], list[Key]] = defaultdict(list)  # parent key -> keys
    for key in series:
        unit = units.get((key[0], key[1]))
        if unit is not None and unit.parent is not None:
            children[_parent_level(key[0]), unit.parent, key[2]].append(key)
    siblings: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for (level, code), unit in units.items():
        siblings[level, unit.parent].append(code)
    found: list[EarlyWarning] = []
    for key, values in series.items():
        unit = units.get((key[0], key[1]))
        if unit is None:
            continue
        peers = [z for z in (zs.get((key[0], code, key[2]), QUIET)
                             for code in siblings[key[0], unit.parent] if code != key[1])
                 if z is not None]  # a peer without a series counted 0 throughout
        shared = _widespread(key, unit, values, at, zs, children.get(key, []), months, shown)
        own = None if shared else _incipient(key, unit, values, at, zs[key], peers, months, shown)
        found += [w for w in (own, shared, _trending(key, unit, values, at, months, shown)) if w]
    shared_moves = {(w.unit_code, w.indicator) for w in found if w.kind == "widespread"}
    found = [w for w in found if w.kind != "incipient"
             or (units[w.level, w.unit_code].parent, w.indicator) not in shared_moves]
    return sorted(found, key=lambda w: (KINDS.index(w.kind), LEVELS.index(w.level), -w.score,
                                        w.unit_code, w.indicator))


def _parent_level(level: str) -> str:
    return {"township": "district", "community": "township", "grid": "community"}.get(level, "")


def _z(values: Sequence[float], at: int) -> tuple[float, float, float] | None:
    history = values[max(0, at - BASELINE_MONTHS):at]
    return robust_z(history, values[at]) if len(history) >= MIN_BASELINE_MONTHS else None


def _incipient(key: Key, unit: Unit, values: Sequence[float], at: int,
               z: tuple[float, float, float] | None, peers: list[tuple[float, float, float]],
               months: Sequence[str], shown: _Shown) -> EarlyWarning | None:
    if z is None or values[at] < MIN_COUNT:
        return None
    own, level, mad = z
    peer_z = median(p[0] for p in peers) if peers else 0.0
    if own < SURGE_Z or own - peer_z < SURGE_Z:
        return None
    n = min(at, BASELINE_MONTHS)
    where = "under the same parent" if unit.parent else "of the city"
    peer_text = (f"the {len(peers)} other {key[0]} units {where} moved {peer_z:+.1f} (median)"
                 if peers else "it has no peers to compare with")
    return EarlyWarning(
        "incipient", key[0], key[1], unit.name, key[2], months[at],
        shown.cell(key, months[at], values[at]), shown.number(key[0], level),
        round(own - peer_z, 2),
        f"{shown.cell_text(key, months[at], values[at])} in {months[at]} against a usual "
        f"{shown.text(key[0], level)} (median of its previous {n} months, MAD {mad:g}): "
        f"{own:+.1f} robust standard deviations; {peer_text}")


def _trending(key: Key, unit: Unit, values: Sequence[float], at: int, months: Sequence[str],
              shown: _Shown) -> EarlyWarning | None:
    window = list(values[max(0, at + 1 - TREND_MONTHS):at + 1])
    if len(window) < MIN_TREND_MONTHS:
        return None
    slope, intercept = theil_sen(window)
    change = slope * (len(window) - 1)
    size = change / max(median(window), 1.0)
    test = mann_kendall_z(window)
    least = max(MIN_COUNT, TREND_SPREADS * math.sqrt(max(median(window), 1.0)))
    if (abs(test) < TREND_Z or abs(change) < least or abs(size) < MIN_TREND_CHANGE
            or (test > 0) != (slope > 0)):
        return None
    start, end = intercept, intercept + change
    return EarlyWarning(
        "trending", key[0], key[1], unit.name, key[2], months[at],
        shown.cell(key, months[at], values[at]), shown.number(key[0], round(start, 2)),
        round(abs(size), 3),
        f"{'rose' if change > 0 else 'fell'} from about {shown.text(key[0], round(start, 1))} "
        f"to {shown.text(key[0], round(end, 1))} over {len(window)} months "
        f"({months[at + 1 - len(window)]}..{months[at]}; Theil-Sen slope {slope:+.2f} a month, "
        f"{size:+.0%} of its median; Mann-Kendall z {test:+.1f})")


def _widespread(key: Key, unit: Unit, values: Sequence[float], at: int,
                zs: Mapping[Key, tuple[float, float, float] | None], children: list[Key],
                months: Sequence[str], shown: _Shown) -> EarlyWarning | None:
    own = zs[key]
    if own is None or abs(own[0]) < SURGE_Z or max(values[at], own[1]) < MIN_COUNT:
        return None
    active = [zs[c][0] for c in children if zs[c] is not None and (zs[c][1] > 0 or zs[c][0])]
    moving = [z for z in active if z * own[0] > 0 and abs(z) >= SHARED_Z]
    if len(active) < MIN_ACTIVE_CHILDREN or len(moving) < SHARED_SHARE * len(active):
        return None
    child_level = children[0][0]
    return EarlyWarning(
        "widespread", key[0], key[1], unit.name, key[2], months[at],
        shown.cell(key, months[at], values[at]), shown.number(key[0], own[1]),
        round(abs(own[0]) * len(moving) / len(active), 2),
        f"{shown.cell_text(key, months[at], values[at])} in {months[at]} against a usual "
        f"{shown.text(key[0], own[1])} ({own[0]:+.1f} robust standard deviations), "
        f"{'a rise' if own[0] > 0 else 'a fall'} shared by {len(moving)} of its "
        f"{len(active)} active {child_level} units (each {SHARED_Z:g}+ robust standard "
        f"deviations the same way)")
