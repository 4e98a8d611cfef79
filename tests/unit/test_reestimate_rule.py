"""When a processor re-estimates the matching parameters (streams/reestimate.py `due`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deploy import locks
from streams.estimation_sample import U_RECORDS
from streams.matching import Parameters
from streams.parameter_store import StoredParameters
from streams.reestimate import GROWTH, StoreSize, due
from streams.relink import may_relink

PARAMETERS = Parameters(m={}, u={}, link=15.0, review=8.0)
SHIPPED = StoredParameters(0, PARAMETERS)
MIN = 1000


def estimated(records: int, events: int, owed: bool = False) -> StoredParameters:
    return StoredParameters(3, PARAMETERS, records, events, owed)


def test_below_the_fewest_records_never() -> None:
    assert not due(StoreSize(MIN - 1, 5 * MIN), SHIPPED, quiet=True, min_records=MIN)


def test_the_shipped_parameters_give_way_at_once_when_the_store_is_big_enough() -> None:
    assert due(StoreSize(MIN, MIN), SHIPPED, quiet=False, min_records=MIN)


def test_while_landing_only_when_the_store_has_doubled() -> None:
    stored = estimated(4000, 4500)
    assert not due(StoreSize(7999, 9000), stored, quiet=False, min_records=MIN)
    assert due(StoreSize(8000, 9000), stored, quiet=False, min_records=MIN)


def test_while_landing_not_past_a_full_sample() -> None:
    """Past U_RECORDS an estimate reads as many records however big the store, and each one
    queues the whole store to be linked again: doubling sets none off, only a quiet store."""
    stored = estimated(U_RECORDS // 2, U_RECORDS // 2)
    assert due(StoreSize(U_RECORDS, U_RECORDS), stored, quiet=False, min_records=MIN)
    assert not due(StoreSize(U_RECORDS + 1, U_RECORDS + 1), stored, quiet=False,
                   min_records=MIN)
    assert due(StoreSize(4 * U_RECORDS, 5 * U_RECORDS), stored, quiet=True, min_records=MIN)


def test_quiet_again_when_anything_landed_since() -> None:
    stored = estimated(4000, 4500)
    assert due(StoreSize(4000, 4501), stored, quiet=True, min_records=MIN)
    assert not due(StoreSize(4000, 4500), stored, quiet=True, min_records=MIN)


def test_a_relink_owed_once_no_backlog_waits_even_with_nothing_landed() -> None:
    """A switch made while a backlog waited queued nothing: the first look without a backlog
    estimates again and queues every record, once."""
    owed = estimated(4000, 4500, owed=True)
    assert not due(StoreSize(4000, 4500), owed, quiet=False, min_records=MIN, backlog=True)
    assert not due(StoreSize(4000, 4500), owed, quiet=True, min_records=MIN, backlog=True)
    assert due(StoreSize(4000, 4500), owed, quiet=False, min_records=MIN, backlog=False)
    assert due(StoreSize(8000, 9000), owed, quiet=False, min_records=MIN, backlog=True)


@given(records=st.integers(0, 10**7), events=st.integers(0, 10**7),
       quiet=st.booleans(), min_records=st.integers(2, 10**6), backlog=st.booleans())
def test_never_again_from_the_store_it_was_estimated_from(records, events, quiet,
                                                          min_records, backlog) -> None:
    """A store that has not changed since its estimate, and owes no relink, is never estimated
    again: the timer cannot loop, and linking again (which lands nothing) cannot set it off."""
    stored = estimated(records, events)
    assert not due(StoreSize(records, events), stored, quiet, min_records, backlog)


@given(records=st.integers(0, 10**7), events=st.integers(1, 10**7),
       min_records=st.integers(2, 10**6))
def test_a_quiet_store_that_changed_always_ends_estimated(records, events, min_records) -> None:
    """What makes the final parameters depend on the records only: once nothing lands, a
    store big enough is estimated again from all of them."""
    stored = estimated(records // GROWTH + 1, events - 1)
    assert due(StoreSize(records, events), stored, True, min_records) == (
        records >= max(min_records, 2))


def test_advisory_lock_keys_are_distinct() -> None:
    keys = [v for k, v in vars(locks).items() if k.endswith("_LOCK")]
    assert len(keys) == 5 and len(set(keys)) == len(keys)


def test_relinking_waits_while_more_than_a_batch_waits_to_merge() -> None:
    """New events go first: a backfill's merges once waited a whole relink out."""
    assert not may_relink(None, 2000)  # before the gauges saw the lag
    assert may_relink(0, 2000) and may_relink(2000, 2000)
    assert not may_relink(2001, 2000)
