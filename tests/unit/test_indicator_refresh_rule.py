"""When a processor refreshes the indicators (streams/indicator_store.py `refresh_due`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.indicator_store import PACE, LastRefresh, refresh_due

MONTH = "2026-12"


def last(seconds: float, ago: float, changes: int = 100, month: str = MONTH) -> LastRefresh:
    return LastRefresh(month, changes, seconds, ago)


def test_a_store_never_refreshed_is_refreshed_at_once() -> None:
    assert refresh_due(None, 0, MONTH)


def test_nothing_changed_no_refresh_however_long_ago() -> None:
    assert not refresh_due(last(1.0, 10**6), 100, MONTH)


def test_the_store_or_the_month_changed_once_paced() -> None:
    assert refresh_due(last(1.0, PACE * 1.0), 101, MONTH)
    assert refresh_due(last(1.0, PACE * 1.0), 100, "2027-01")


def test_a_long_refresh_waits_pace_times_its_length() -> None:
    """At 200,000 persons a refresh took 109 s: the next comes 1,090 s after it began."""
    assert not refresh_due(last(109.0, 1089.0), 5000, MONTH)
    assert refresh_due(last(109.0, 1090.0), 5000, MONTH)


@given(seconds=st.floats(0, 10**4), ago=st.floats(0, 10**6), changes=st.integers(0, 10**9))
def test_refreshing_never_takes_more_than_its_share(seconds: float, ago: float,
                                                    changes: int) -> None:
    if refresh_due(last(seconds, ago, changes=changes - 1), changes, MONTH):
        assert seconds <= ago / PACE
