"""The merge's own queries against the real PostgreSQL: what it appends with COPY or stages as
arrays comes back exactly as it went in, candidate lookups leave out keys too common to mean
anything, and a recheck finds the records linked to unseen ones as a plain reading of the edges
does."""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy import postgres
from deploy.settings import HubSettings
from streams.features import RecordFeatures
from streams.json_text import json_text
from streams.prepared import PreparingConnection
from streams.recheck_store import linked_to
from streams.record_store import candidates, record_row, upsert_records
from streams.store_io import COPY_FROM_ROWS, copy_rows, staged_rows
from tests.integration.conftest import hub_settings

# PostgreSQL's text holds any character but NUL (the publisher refuses NUL: connectors/publisher.py)
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
NASTY = ["\\N", "\\", "a\tb", "a\nb", "a\rb", "\\.", "\\\\t", "", " ", "字\t段\\n"]


@pytest.fixture(scope="module")
def database(stack: HubSettings) -> HubSettings:
    return hub_settings(stack)


ROWS = st.lists(st.tuples(st.one_of(st.none(), TEXT, st.sampled_from(NASTY)),
                          st.one_of(st.none(), TEXT), st.integers(-2**31, 2**31 - 1),
                          st.recursive(st.none() | st.booleans() | TEXT | st.integers(),
                                       lambda inner: st.lists(inner, max_size=3)
                                       | st.dictionaries(TEXT, inner, max_size=3),
                                       max_leaves=8),
                          st.lists(st.one_of(TEXT, st.sampled_from(NASTY + ['"', "{,}"])),
                                   max_size=4),
                          st.booleans()),
                max_size=20)


@settings(max_examples=60, deadline=None)
@given(rows=ROWS)
def test_copied_rows_read_back_as_written(database, rows) -> None:
    conn = psycopg2.connect(postgres.dsn(database))
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE copied (n serial, a text, b text, c integer, d jsonb,"
                        " e text[], f boolean)")
            copy_rows(cur, "copied", ("a", "b", "c", "d", "e", "f"),
                      [(a, b, c, json_text(d), e, f) for a, b, c, d, e, f in rows])
            cur.execute("SELECT a, b, c, d, e, f FROM copied ORDER BY n")
            assert cur.fetchall() == [tuple(row) for row in rows]
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("copies", [1, COPY_FROM_ROWS], ids=["as arrays", "copied"])
@settings(max_examples=40, deadline=None)
@given(rows=ROWS, when=st.datetimes(timezones=st.just(dt.UTC)),
       score=st.floats(allow_nan=False, allow_infinity=False), tail=st.sampled_from(NASTY))
def test_staged_rows_read_back_as_written(database, copies, rows, when, score, tail) -> None:
    conn = psycopg2.connect(postgres.dsn(database), connection_factory=PreparingConnection)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE staged_in (n integer, a text, b text, c integer,"
                        " d jsonb, e text[], f boolean, g timestamptz, h double precision)")
            columns = ("n", "a", "b", "c", "d", "e", "f", "g", "h")
            expected = [(n, a, b, c, d, e, f, when, score)
                        for n, (a, b, c, d, e, f) in enumerate(rows * copies)]
            for _ in range(2):  # a second staging in one transaction starts from none
                select, params = staged_rows(cur, "staged_in", columns,
                                             [(*row[:4], json_text(row[4]), *row[5:])
                                              for row in expected])
                cur.execute(f"SELECT {', '.join(columns)} FROM ({select}) s ORDER BY n", params)
                assert cur.fetchall() == expected
            # one value ending the array literal's text on a backslash or a quote
            select, params = staged_rows(cur, "staged_in", ("n", "a"), [(-1, tail)])
            cur.execute(f"SELECT a FROM ({select}) s", params)
            assert cur.fetchall() == [(tail,)]
    finally:
        conn.rollback()
        conn.close()


def test_candidates_come_from_keys_up_to_the_block_limit(database) -> None:
    conn = psycopg2.connect(postgres.dsn(database), connection_factory=PreparingConnection)

    def refs_sharing_keys(cur, keys, limit, in_hand=()):  # noqa: ANN001, ANN202
        return set(candidates(cur, keys, limit, in_hand))

    try:
        with conn.cursor() as cur:
            upsert_records(cur, [record_row(RecordFeatures(f"police:{i}", "police"), f"e{i}", [])
                                 for i in range(10)])
            copy_rows(cur, "hub.record_keys", ("key", "ref"),
                      [("common", f"police:{i}") for i in range(4)]
                      + [("rare", f"police:{i}") for i in range(2, 5)]
                      + [("other", "police:9")])
            assert refs_sharing_keys(cur, ["common", "rare"], 3) == {
                "police:2", "police:3", "police:4"}
            assert refs_sharing_keys(cur, ["common", "rare"], 4) == {
                f"police:{i}" for i in range(5)}
            assert refs_sharing_keys(cur, ["missing"], 4) == set()
            # records in hand are not read back, but still count in their keys' blocks
            assert refs_sharing_keys(cur, ["common", "rare"], 3, ["police:2"]) == {
                "police:3", "police:4"}
            assert refs_sharing_keys(cur, ["common", "rare"], 4, ["police:0", "police:4"]) == {
                "police:1", "police:2", "police:3"}
            found = candidates(cur, ["common", "rare", "other"], 3, [])  # the keys found by
            assert {ref: sorted(c.keys) for ref, c in found.items()} == {
                "police:2": ["rare"], "police:3": ["rare"], "police:4": ["rare"],
                "police:9": ["other"]}
    finally:
        conn.rollback()
        conn.close()


REFS = st.sets(st.sampled_from([f"police:{i}" for i in range(12)]), max_size=8)


@settings(max_examples=40, deadline=None)
@given(edges=st.sets(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
       lookups=st.lists(st.tuples(REFS, REFS), min_size=1, max_size=8))
def test_linked_to_finds_the_records_an_edge_joins_to_others(database, edges, lookups) -> None:
    # as the merge runs it: a prepared statement (streams/prepared.py), its generic plan
    pairs = {tuple(sorted((f"police:{a}", f"police:{b}"))) for a, b in edges if a != b}
    conn = psycopg2.connect(postgres.dsn(database), connection_factory=PreparingConnection)
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cur.execute("DELETE FROM hub.match_edges")
            copy_rows(cur, "hub.match_edges", ("a", "b", "rule", "score", "agreed"),
                      [(a, b, "id_exact", 1.0, []) for a, b in pairs])
            for refs, others in lookups:
                expected = {ref for a, b in pairs
                            if (a in refs and b in others) or (b in refs and a in others)
                            for ref in (a, b) if ref in refs}
                assert linked_to(cur, sorted(refs), others) == expected
    finally:
        conn.rollback()
        conn.close()
