"""A record's versions order its corrections: the police CDC's update time (gxsj) after an
export row without one, and later update times after earlier ones."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from schemas.events import make_event
from streams.features import features_of, record_version
from tests.samples import sample_events


def gxsj(moment: datetime) -> str:
    """A timestamptz as PostgreSQL prints it in UTC (what the CDC stream carries)."""
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction + "+00"


MOMENTS = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))
EVENT_IDS = st.text("0123456789abcdef", min_size=32, max_size=32)


def test_a_cdc_correction_comes_after_the_export_row_it_corrects() -> None:
    exported = next(e for e in sample_events() if e["source"].endswith("/police"))
    assert not (exported["data"].get("origin") or {}).get("gxsj")
    correction = make_event(department="police", event_type=exported["type"],
                            record_id=exported["subject"], raw=exported["data"]["raw"],
                            parsed=exported["data"]["parsed"],
                            origin={"table": "t_rk_bdjl", "gxsj": "2026-11-27 00:00:00+00"})
    assert features_of(exported).version < features_of(correction).version


@given(MOMENTS, MOMENTS, EVENT_IDS, EVENT_IDS)
def test_versions_follow_update_times_and_come_after_none(
        first: datetime, second: datetime, a: str, b: str) -> None:
    assert record_version(None, a) < record_version(gxsj(first), b)
    if first < second:
        assert record_version(gxsj(first), a) < record_version(gxsj(second), b)
