"""Robust statistics of short monthly count series (pure): a level and spread that one odd month
does not move, a slope that a few odd months do not tilt, and a test of whether a series
keeps rising or falling. Small enough to write out rather than depend on scipy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its standard deviation


def robust_z(history: Sequence[float], value: float) -> tuple[float, float, float]:
    """How far `value` lies from `history`'s median, in robust standard deviations: (z, median,
    MAD). The spread is at least a Poisson count's (sqrt of the median, at least 1), so that a
    quiet series whose MAD is 0 does not turn every small change into an alarm."""
    level = median(history)
    mad = median(abs(x - level) for x in history)
    spread = max(MAD_TO_SD * mad, math.sqrt(max(level, 1.0)))
    return (value - level) / spread, level, mad


def theil_sen(values: Sequence[float]) -> tuple[float, float]:
    """The Theil-Sen line of values at 0, 1, 2...: (slope, intercept), the medians of the
    pairwise slopes and of the points' intercepts."""
    slopes = [(values[j] - values[i]) / (j - i)
              for i in range(len(values)) for j in range(i + 1, len(values))]
    slope = median(slopes)
    return slope, median(v - slope * x for x, v in enumerate(values))


def mann_kendall_z(values: Sequence[float]) -> float:
    """The Mann-Kendall trend test's z (normal approximation, continuity corrected, ties left
    in the variance: conservative): large and positive for a series that keeps rising."""
    n = len(values)
    s = sum((values[j] > values[i]) - (values[j] < values[i])
            for i in range(n) for j in range(i + 1, n))
    variance = n * (n - 1) * (2 * n + 5) / 18
    if s == 0 or variance == 0:
        return 0.0
    return (s - math.copysign(1, s)) / math.sqrt(variance)
