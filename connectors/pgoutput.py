"""Decode PostgreSQL's built-in `pgoutput` logical replication messages (protocol version 1).

Pure: bytes in, frozen dataclasses out, no I/O. `pgoutput` ships with every PostgreSQL >= 10,
so streaming a department's table needs no extension on their server, only this decoder.
The layout follows the PostgreSQL manual, "Logical Replication Message Formats": integers are
big-endian, strings are NUL-terminated, LSNs are unsigned 64-bit, timestamps are microseconds
since 2000-01-01 UTC. Version 2+ fields (streamed transactions) are not expected and rejected.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from deploy.errors import InputError

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ENCODING = "utf-8"  # the replication connection asks for client_encoding UTF8


class PgOutputError(InputError):
    """A message that does not follow the protocol (truncated, trailing bytes, unknown kind)."""


class Unchanged:
    """A TOASTed column that an UPDATE left alone: the server does not resend its value."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()
Value = str | bytes | Unchanged | None


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int  # confirming this LSN means the transaction is never sent again
    commit_time: datetime


@dataclass(frozen=True)
class Origin:
    commit_lsn: int
    name: str


@dataclass(frozen=True)
class Column:
    flags: int  # 1: part of the replica identity key
    name: str
    type_oid: int
    type_modifier: int


@dataclass(frozen=True)
class Relation:
    """Sent before the first change of a table in a session (and after its DDL changes)."""

    relation_id: int
    namespace: str  # empty for pg_catalog
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Type:
    type_oid: int
    namespace: str
    name: str


@dataclass(frozen=True)
class Insert:
    relation_id: int
    new: tuple[Value, ...]


@dataclass(frozen=True)
class Update:
    """The new row; the optional old ('O') or key ('K') tuple before it is skipped."""

    relation_id: int
    new: tuple[Value, ...]


@dataclass(frozen=True)
class Delete:
    """`old` is the key ('K', non-key columns null) or, for REPLICA IDENTITY FULL, the row."""

    relation_id: int
    old: tuple[Value, ...]


@dataclass(frozen=True)
class Truncate:
    options: int  # 1: CASCADE, 2: RESTART IDENTITY
    relation_ids: tuple[int, ...]


Message = Begin | Commit | Origin | Relation | Type | Insert | Update | Delete | Truncate


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.at = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise PgOutputError(f"message truncated at byte {self.at} (wanted {n} more)")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt: str) -> int:
        return int(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0])

    def time(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.unpack(">q"))

    def string(self) -> str:
        end = self.data.find(b"\0", self.at)
        if end < 0:
            raise PgOutputError(f"unterminated string at byte {self.at}")
        text = self.data[self.at:end].decode(ENCODING)
        self.at = end + 1
        return text

    def tuple_data(self) -> tuple[Value, ...]:
        values: list[Value] = []
        for _ in range(self.unpack(">h")):
            kind = self.take(1)
            if kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind in (b"t", b"b"):
                raw = self.take(self.unpack(">i"))
                values.append(raw.decode(ENCODING) if kind == b"t" else raw)
            else:
                raise PgOutputError(f"unknown tuple value kind {kind!r}")
        return tuple(values)

    def expect(self, allowed: bytes) -> bytes:
        marker = self.take(1)
        if marker not in allowed:  # one byte: a substring test is a membership test
            raise PgOutputError(f"expected one of {allowed!r}, got {marker!r}")
        return marker


def _relation(r: _Reader) -> Relation:
    relation_id, namespace, name = r.unpack(">I"), r.string(), r.string()
    identity = chr(r.unpack(">B"))
    columns = tuple(Column(r.unpack(">B"), r.string(), r.unpack(">I"), r.unpack(">i"))
                    for _ in range(r.unpack(">h")))
    return Relation(relation_id, namespace, name, identity, columns)


def _update(r: _Reader) -> Update:
    relation_id = r.unpack(">I")
    if r.expect(b"KON") != b"N":
        r.tuple_data()  # the old row or its key: not needed downstream
        r.expect(b"N")
    return Update(relation_id, r.tuple_data())


def decode(payload: bytes) -> Message:
    """One pgoutput message (the payload of one XLogData) as its dataclass."""
    r = _Reader(payload)
    kind = r.take(1)
    message: Message
    if kind == b"B":
        message = Begin(r.unpack(">Q"), r.time(), r.unpack(">I"))
    elif kind == b"C":
        message = Commit(r.unpack(">B"), r.unpack(">Q"), r.unpack(">Q"), r.time())
    elif kind == b"O":
        message = Origin(r.unpack(">Q"), r.string())
    elif kind == b"R":
        message = _relation(r)
    elif kind == b"Y":
        message = Type(r.unpack(">I"), r.string(), r.string())
    elif kind == b"I":
        relation_id = r.unpack(">I")
        r.expect(b"N")
        message = Insert(relation_id, r.tuple_data())
    elif kind == b"U":
        message = _update(r)
    elif kind == b"D":
        relation_id = r.unpack(">I")
        r.expect(b"KO")
        message = Delete(relation_id, r.tuple_data())
    elif kind == b"T":
        count, options = r.unpack(">i"), r.unpack(">B")
        message = Truncate(options, tuple(r.unpack(">I") for _ in range(count)))
    else:
        raise PgOutputError(f"unsupported pgoutput message kind {kind!r}")
    if r.at != len(r.data):
        raise PgOutputError(f"{len(r.data) - r.at} trailing bytes after {type(message).__name__}")
    return message


def lsn_text(lsn: int) -> str:
    """An LSN the way PostgreSQL writes it: high and low 32 bits in hex, 'X/Y'."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
