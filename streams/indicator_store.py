"""hub.indicators kept from the store: every resident's timeline streamed once from a
server-side cursor (a refresh never holds every resident's history), the monthly counts
computed (streams/indicators.py) and written whole in one transaction, so that a late record
that moved a fact to another month corrects it at the next refresh; and the stored indicators
read back as series for the early warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg2
from psycopg2.extras import execute_values

from deploy.locks import INDICATOR_REFRESH_LOCK
from deploy.migrations import store_small_cell_k
from streams.features import addresses_of
from streams.grid_units import GridRow, Unit, units_of
from streams.grids import grid_of, load_gazetteer
from streams.indicators import (
    Fact,
    Place,
    Timeline,
    counted_residents,
    grid_counts,
    month_index,
    months_through,
    roll_up,
)
from streams.normalize_address import Gazetteer, normalize_address

FACT_ATTRIBUTES = ("life_status", "population_type", "residence_permit", "employment", "pension",
                   "dibao")
TIMELINE_BATCH = 2000  # residents a refresh fetches at a time


@dataclass(frozen=True)
class Refreshed:
    first_month: str
    last_month: str
    residents: int
    rows: int


def grid_units(cur: Any) -> dict[tuple[str, str], Unit]:
    cur.execute("SELECT grid_code, district, township, community, grid_name FROM hub.grids")
    return units_of(GridRow(*row) for row in cur.fetchall())


def _place(since: str, text: str, spellings: tuple, gazetteer: Gazetteer) -> Place:
    address = normalize_address(text, gazetteer)
    return Place(since, grid_of(text, spellings, gazetteer), address and address.key())


TIMELINES = """
SELECT r.resident_id, r.birth_date,
       ARRAY(SELECT t.text FROM hub.source_links l
               JOIN hub.source_records s ON s.ref = l.ref
              CROSS JOIN LATERAL unnest(s.addresses) WITH ORDINALITY AS t (text, n)
              WHERE l.resident_id = r.resident_id AND t.text IS NOT NULL
              ORDER BY s.ref, t.n),
       (SELECT jsonb_agg(jsonb_build_array(h.attribute, h.value, h.valid_from)
                         ORDER BY h.valid_from, h.record_ref)
          FROM hub.resident_history h
         WHERE h.resident_id = r.resident_id AND h.attribute = ANY(%(attributes)s)),
       ARRAY(SELECT ARRAY[f.kind, f.since] FROM hub.findings f
              WHERE f.resident_id = r.resident_id),
       ARRAY(SELECT to_char(c.opened_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')
               FROM hub.conflicts c WHERE c.resident_id = r.resident_id)
  FROM hub.residents r"""


def read_timelines(cur: Any) -> Iterator[Timeline]:
    """Every resident's timeline, one at a time from a server-side cursor (so a refresh holds
    a batch of residents, not the store): places from their residence history (placed as the
    merge places a residence), the facts the indicators count, findings and conflicts. `cur`
    must be in a transaction."""
    gazetteer = load_gazetteer(cur)
    with cur.connection.cursor(name="indicator_timelines") as stream:
        stream.itersize = TIMELINE_BATCH
        stream.execute(TIMELINES, {"attributes": ["residence_address", *FACT_ATTRIBUTES]})
        for resident, birth, texts, history, findings, conflicts in stream:
            spellings = addresses_of(tuple(texts))
            places, facts = [], []
            for attribute, value, valid_from in history or ():
                if attribute != "residence_address":
                    facts.append(Fact(attribute, value, valid_from))
                elif isinstance(value, str):
                    places.append(_place(valid_from, value, spellings, gazetteer))
            yield Timeline(resident, birth, tuple(places), tuple(facts),
                           tuple((kind, since) for kind, since in findings), tuple(conflicts))


def refresh_indicators(cur: Any, last_month: str, months: int, small_cell_k: int) -> Refreshed:
    """Compute every indicator of the `months` months through `last_month` and replace
    hub.indicators with them (in the caller's transaction), marking the counts the small-cell
    rule withholds. One refresh at a time (an advisory lock); it records the change feed's
    length and how long it took, for the processors' `refresh_due`."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (INDICATOR_REFRESH_LOCK,))
    store_small_cell_k(cur, small_cell_k)
    cur.execute("SELECT count(*) FROM hub.change_outbox")
    (changes,) = cur.fetchone()
    window = months_through(last_month, months)
    units = grid_units(cur)
    read = [0]

    def counted() -> Iterator[Timeline]:
        for timeline in read_timelines(cur):
            read[0] += 1
            yield timeline

    totals = roll_up(grid_counts(counted(), window), units)
    rows = [(level, code, units[level, code].name, units[level, code].parent, indicator, month,
             value) for (level, code, indicator, month), value in totals.items() if value]
    cur.execute("DELETE FROM hub.indicators")
    execute_values(cur, "INSERT INTO hub.indicators (level, unit_code, unit_name, parent_code,"
                        " indicator, month, value) VALUES %s", rows, page_size=5000)
    cur.execute("INSERT INTO hub.indicator_refresh (id, first_month, last_month, changes_seen,"
                " seconds) VALUES (1, %s, %s, %s, extract(epoch FROM clock_timestamp() - now()))"
                " ON CONFLICT (id) DO UPDATE SET refreshed_at = now(),"
                " first_month = EXCLUDED.first_month, last_month = EXCLUDED.last_month,"
                " changes_seen = EXCLUDED.changes_seen, seconds = EXCLUDED.seconds",
                (window[0], window[-1], changes))
    cur.execute("SELECT hub.mark_withheld_indicators()")
    return Refreshed(window[0], window[-1], read[0], len(rows))


PACE = 10  # a refresh runs at most 1/PACE of the time: the next waits PACE times its length


@dataclass(frozen=True)
class LastRefresh:
    """What hub.indicator_refresh says of the last refresh."""

    last_month: str
    changes_seen: int  # the change feed's length it saw
    seconds: float  # how long it took
    ago: float  # seconds since it began


def refresh_due(last: LastRefresh | None, changes: int, last_month: str) -> bool:
    """Whether a processor's periodic refresh runs now (pure): the store (the change feed's
    length) or the month changed since the last one, and PACE times that one's length has
    passed since it began, so refreshing never crowds out the merge as the store grows."""
    if last is None:
        return True
    if last.changes_seen == changes and last.last_month == last_month:
        return False
    return last.ago >= PACE * last.seconds


def refresh_if_changed(cur: Any, last_month: str, months: int, small_cell_k: int
                       ) -> Refreshed | None:
    """A processor's periodic refresh when `refresh_due` (None: not now). Skipped while
    another refresh runs."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (INDICATOR_REFRESH_LOCK,))
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT last_month, changes_seen, seconds,"
                " extract(epoch FROM clock_timestamp() - refreshed_at)::float"
                " FROM hub.indicator_refresh")
    row = cur.fetchone()
    cur.execute("SELECT count(*) FROM hub.change_outbox")
    if not refresh_due(row and LastRefresh(*row), cur.fetchone()[0], last_month):
        return None
    return refresh_indicators(cur, last_month, months, small_cell_k)


def keep_indicators_current(conninfo: str, months: int, small_cell_k: int) -> Refreshed | None:
    """The processor's timer: `refresh_if_changed` through this month, on a connection of its
    own, reading one snapshot of the store (repeatable read)."""
    conn = psycopg2.connect(conninfo)
    try:
        conn.set_session(isolation_level="REPEATABLE READ")
        with conn, conn.cursor() as cur:
            return refresh_if_changed(cur, this_month(), months, small_cell_k)
    finally:
        conn.close()


def this_month() -> str:
    """The current month where the departments are (UTC+8): the last a refresh counts."""
    return datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")


def records_behind(cur: Any, unit_code: str, indicator: str, month: str,
                   source: str | None = None) -> list[tuple[str, str]]:
    """The records (resident, source:record_id) of the residents a unit's count of `indicator`
    in `month` counts, of one source or all, by ref. It reads every timeline, as a refresh
    does: seconds for a county, for one warning a reader opens. `cur`: tuples."""
    residents = counted_residents(read_timelines(cur), unit_code, indicator, month)
    cur.execute("SELECT resident_id, ref FROM hub.source_links WHERE resident_id = ANY(%s)"
                " AND (%s::text IS NULL OR source = %s) ORDER BY ref",
                (sorted(residents), source, source))
    return [(resident, ref) for resident, ref in cur.fetchall()]


@dataclass(frozen=True)
class StoredIndicators:
    """The stored indicators as series: one value a month (zeros filled in) per unit and
    indicator, the months they cover, the units, the small-cell rule's k and the cells
    (level, unit code, indicator, month) it withheld."""

    months: list[str]
    series: dict[tuple[str, str, str], list[float]]
    units: dict[tuple[str, str], Unit]
    small_cell_k: int
    withheld: frozenset[tuple[str, str, str, str]]


def stored_indicators(cur: Any) -> StoredIndicators | None:
    """None before the first refresh. `cur`: a cursor returning tuples."""
    cur.execute("SELECT first_month, last_month, k FROM hub.indicator_refresh, hub.small_cell_rule")
    row = cur.fetchone()
    if row is None:
        return None
    first, last, k = row
    months = months_through(last, month_index(last) - month_index(first) + 1)
    at = {m: i for i, m in enumerate(months)}
    series: dict[tuple[str, str, str], list[float]] = {}
    withheld: set[tuple[str, str, str, str]] = set()
    cur.execute("SELECT level, unit_code, indicator, month, value, withheld FROM hub.indicators")
    for level, code, indicator, month, value, hidden in cur.fetchall():
        series.setdefault((level, code, indicator), [0.0] * len(months))[at[month]] = value
        if hidden:
            withheld.add((level, code, indicator, month))
    return StoredIndicators(months, series, grid_units(cur), k, frozenset(withheld))
