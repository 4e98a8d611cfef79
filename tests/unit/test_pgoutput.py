"""The pgoutput decoder reads hand-built protocol v1 messages as the manual lays them out."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.pgoutput import (
    PG_EPOCH,
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    Origin,
    PgOutputError,
    Relation,
    Truncate,
    Type,
    Update,
    Value,
    decode,
    lsn_text,
    parse_lsn,
)

WHEN = datetime(2024, 5, 1, 2, 3, 4, 567891, tzinfo=UTC)


# A minimal encoder, written from the manual independently of the decoder.
def _s(text: str) -> bytes:
    return text.encode() + b"\0"


def _ts(when: datetime) -> bytes:
    return struct.pack(">q", (when - PG_EPOCH) // timedelta(microseconds=1))


def _tuple(values: list[Value]) -> bytes:
    out = struct.pack(">h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is UNCHANGED:
            out += b"u"
        else:
            data = value.encode()
            out += b"t" + struct.pack(">i", len(data)) + data
    return out


def _relation(relid: int, ns: str, name: str, cols: list[tuple[int, str, int, int]]) -> bytes:
    out = b"R" + struct.pack(">I", relid) + _s(ns) + _s(name) + b"d"
    out += struct.pack(">h", len(cols))
    for flags, col, oid, mod in cols:
        out += struct.pack(">B", flags) + _s(col) + struct.pack(">Ii", oid, mod)
    return out


def test_begin_and_commit() -> None:
    begin = b"B" + struct.pack(">Q", 0x1_0000_00A0) + _ts(WHEN) + struct.pack(">I", 4_000_000_000)
    assert decode(begin) == Begin(0x1_0000_00A0, WHEN, 4_000_000_000)
    commit = b"C\0" + struct.pack(">QQ", 0x16B3748, 0x16B3778) + _ts(WHEN)
    assert decode(commit) == Commit(0, 0x16B3748, 0x16B3778, WHEN)


def test_relation_with_columns_and_a_pre_2000_timestamp() -> None:
    message = _relation(16385, "public", "t_rk_bdjl",
                        [(1, "bdlsh", 1043, 36), (0, "xm", 1043, 54), (0, "gxsj", 1184, -1)])
    assert decode(message) == Relation(16385, "public", "t_rk_bdjl", "d", (
        Column(1, "bdlsh", 1043, 36), Column(0, "xm", 1043, 54), Column(0, "gxsj", 1184, -1)))
    old = datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert decode(b"C\0" + bytes(16) + _ts(old)).commit_time == old


def test_origin_type_truncate() -> None:
    assert decode(b"O" + struct.pack(">Q", 7) + _s("源")) == Origin(7, "源")
    assert decode(b"Y" + struct.pack(">I", 99) + _s("public") + _s("mood")) == Type(
        99, "public", "mood")
    assert decode(b"T" + struct.pack(">iB", 2, 1) + struct.pack(">II", 5, 6)) == Truncate(
        1, (5, 6))


def test_insert_update_delete_tuples() -> None:
    row: list[Value] = ["GA1", None, "", UNCHANGED, "沈宇杰"]
    assert decode(b"I" + struct.pack(">I", 5) + b"N" + _tuple(row)) == Insert(5, tuple(row))
    plain = b"U" + struct.pack(">I", 5) + b"N" + _tuple(["a"])
    assert decode(plain) == Update(5, ("a",))
    for marker in (b"K", b"O"):  # the old/key tuple is parsed past, then dropped
        with_old = b"U" + struct.pack(">I", 5) + marker + _tuple(["old", None]) + b"N"
        assert decode(with_old + _tuple(["new", "x"])) == Update(5, ("new", "x"))
    assert decode(b"D" + struct.pack(">I", 5) + b"K" + _tuple(["GA1", None])) == Delete(
        5, ("GA1", None))


@pytest.mark.parametrize("payload", [
    b"", b"Z", b"B\0\0", b"C\0" + bytes(23),  # unknown kind, truncated
    b"I" + struct.pack(">I", 5) + b"X" + _tuple([]),  # wrong tuple marker
    b"I" + struct.pack(">I", 5) + b"N" + struct.pack(">h", 1) + b"q",  # unknown value kind
    b"I" + struct.pack(">I", 5) + b"N" + struct.pack(">h", 1) + b"t" + struct.pack(">i", 9),
    b"O" + struct.pack(">Q", 7) + b"no terminator",
    b"O" + struct.pack(">Q", 7) + _s("x") + b"extra",  # trailing bytes
])
def test_malformed_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(PgOutputError):
        decode(payload)


def test_lsn_text_round_trip() -> None:
    assert lsn_text((1 << 32) + 0x16B3748) == "1/16B3748"
    assert parse_lsn("1/16B3748") == (1 << 32) + 0x16B3748
    assert lsn_text(0) == "0/0"


values = st.one_of(st.none(), st.just(UNCHANGED),
                   st.text(), st.sampled_from(["", "'", '"', "\\", "沈'宇\"杰", "a\nb"]))


@given(st.integers(0, 2**32 - 1), st.lists(values, max_size=20))
def test_insert_round_trips_any_text(relid: int, row: list[Value]) -> None:
    assert decode(b"I" + struct.pack(">I", relid) + b"N" + _tuple(row)) == Insert(relid, tuple(row))


@given(st.lists(values, max_size=8), st.lists(values, min_size=1, max_size=8))
def test_update_round_trips_past_any_old_tuple(old: list[Value], new: list[Value]) -> None:
    payload = b"U" + struct.pack(">I", 1) + b"O" + _tuple(old) + b"N" + _tuple(new)
    assert decode(payload) == Update(1, tuple(new))


@given(st.text().filter(lambda t: "\0" not in t), st.integers(0, 2**64 - 1))
def test_origin_names_round_trip(name: str, lsn: int) -> None:
    assert decode(b"O" + struct.pack(">Q", lsn) + _s(name)) == Origin(lsn, name)
    assert parse_lsn(lsn_text(lsn)) == lsn
