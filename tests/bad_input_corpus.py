"""Damaged copies of the sample exports and push bodies, built at test time (no binary fixtures).

Each department's file interleaves the sample's good records with planted damage; every planted
line says which dead-letter reasons may answer it (empty: a good record that must arrive, such
as an SQL or HTML injection string, which is data like any other).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.samples import SAMPLE

SQL_INJECTION = "'); DROP TABLE hub.residents;--"
HTML_INJECTION = '<script>alert("住址")</script><img src=x onerror=alert(1)>'
MEGABYTE = "某" * (1 << 20)
DEEP = "[" * 10_000 + "]" * 10_000  # 10,000 levels
FILES = {"police": ("police_population.csv", "gb18030"),
         "civil_affairs": ("civil_affairs.csv", "utf-8"),
         "social_security": ("social_security.jsonl", "utf-8")}
# column (CSV header, or JSON field) of the record id, name and address
FIELDS = {"police": ("变动流水号", "姓名", "现住址"),
          "civil_affairs": ("业务流水号", "姓名", "家庭住址"),
          "social_security": ("serial", "aac003", "address")}


@dataclass(frozen=True)
class Planted:
    """One line of a corpus file: the damage, and the dead-letter reasons that may answer it."""

    label: str
    line: bytes
    reasons: frozenset[str] = frozenset()
    record_id: str | None = None  # a good line's record id


@dataclass
class Corpus:
    """A damaged export: where it is, every good record id, and the damage by line number."""

    path: Path
    good_ids: list[str] = field(default_factory=list)
    bad: dict[int, Planted] = field(default_factory=dict)
    injected: dict[str, str] = field(default_factory=dict)  # record id -> injection string


def _records(department: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The sample export's header and records (CSV rows by header, or JSON objects)."""
    name, encoding = FILES[department]
    text = (SAMPLE / name).read_bytes().decode(encoding).removeprefix("\ufeff")
    if department == "social_security":
        return [], [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row]


def _csv_line(header: list[str], record: dict[str, Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([record[h] for h in header])
    return out.getvalue()


def _line(department: str, header: list[str], record: dict[str, Any]) -> str:
    if department == "social_security":
        return json.dumps(record, ensure_ascii=False)
    return _csv_line(header, record)


def _mojibake(text: str, codec: str) -> str:
    """UTF-8 bytes read as `codec` (cp1252 keeps its five undefined bytes as Latin-1 does)."""
    raw = text.encode("utf-8")
    if codec == "latin-1":
        return raw.decode("latin-1")
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in raw)


def _damage(department: str, header: list[str], base: dict[str, Any]
            ) -> list[tuple[str, bytes, set[str]]]:
    """Every kind of damage for this department: label, line bytes, acceptable reasons."""
    id_field, name, address = FIELDS[department]
    file_encoding = FILES[department][1]

    def variant(**changes: Any) -> bytes:
        return _line(department, header, {**base, **changes}).encode(file_encoding)

    line = _line(department, header, base)
    utf16 = line.replace("\n", " ")
    json_source = department == "social_security"
    text_reason = {"mapping"}
    damage: list[tuple[str, bytes, set[str]]] = [
        ("UTF-16 LE with BOM", b"\xff\xfe" + utf16.encode("utf-16-le"),
         {"encoding"}),
        ("UTF-16 BE with BOM", b"\xfe\xff" + utf16.encode("utf-16-be"), {"encoding"}),
        ("UTF-8 BOM in the middle of the file", b"\xef\xbb\xbf" + line.encode(file_encoding),
         {"json"} if json_source else {"encoding"}),
        ("truncated row", (line[: len(line) // 2] if json_source
                           else line.rsplit(",", 4)[0]).encode(file_encoding),
         {"json"} if json_source else {"column_count"}),
        ("field of 1 MB (line over the 256 KiB limit)", variant(**{address: MEGABYTE}),
         {"oversized"}),
        ("NUL in the name", variant(**{name: "张\x00三"}), text_reason),
        ("escape sequence in the address", variant(**{address: "雨城区\x1b[2J东城街道"}),
         text_reason),
        ("carriage return alone in the name", variant(**{name: "张\r三"}),
         text_reason | {"csv"}),
        ("U+2028 in the address", variant(**{address: "雨城区\u2028东城街道"}), text_reason),
        ("record id missing", variant(**{id_field: ""}), text_reason),
    ]
    if department == "police":
        damage += [
            ("UTF-8 line in a GB18030 file", line.encode("utf-8"), {"encoding"}),
            ("Latin-1 mojibake of UTF-8 in a GB18030 file",
             _mojibake(line, "latin-1").encode("utf-8"), {"encoding"}),
        ]
    else:
        damage += [
            ("GB18030 line in a UTF-8 file", line.encode("gb18030"), {"encoding"}),
            ("UTF-16 LE without BOM", utf16.encode("utf-16-le"), {"encoding"}),
            ("Latin-1 mojibake of the name", variant(**{name: _mojibake(base[name], "latin-1")}),
             text_reason),
            ("cp1252 mojibake of the name", variant(**{name: _mojibake(base[name], "cp1252")}),
             text_reason),
        ]
    if department == "civil_affairs":
        damage += [
            ("业务内容 nested 10,000 levels", variant(业务内容=DEEP), text_reason),
            ("业务内容 an array, not an object", variant(业务内容="[1, 2]"), text_reason),
            ("业务内容 holding a NUL", variant(业务内容='{"备注": "a\\u0000b"}'), {"schema"}),
        ]
    if json_source:
        damage += [
            ("JSON nested 10,000 levels", DEEP.encode(), {"json"}),
            ("object nested 10,000 levels", ('{"a":' * 10_000 + "1" + "}" * 10_000).encode(),
             {"json"}),
            ("a JSON array", b"[1, 2]", {"not_object"}),
            ("a JSON string", '"张三"'.encode(), {"not_object"}),
            ("a JSON number", b"42", {"not_object"}),
            ("JSON null", b"null", {"not_object"}),
            ("JSON true", b"true", {"not_object"}),
            ("NaN", line.replace('"payload": {', '"nan": NaN, "payload": {', 1).encode(),
             {"json"}),
            ("duplicate key", line.replace('"serial":', '"aac003": "x", "serial":', 1).encode(),
             {"json"}),
            ("1e400 (infinity) in the payload", variant(payload={"x": 1}).replace(
                b'{"x": 1}', b'{"x": 1e400}'), text_reason),
            ("NUL in the payload", variant(payload={"备注": "a\x00b"}), {"schema"}),
            ("payload a string", variant(payload="text"), text_reason),
        ]
    return damage


def build_file(department: str, tmp_path: Path) -> Corpus:
    """The sample export with every kind of damage and the injection strings planted in it."""
    header, records = _records(department)
    name, encoding = FILES[department]
    id_field, name_field, address_field = FIELDS[department]
    corpus = Corpus(tmp_path / name)
    lines: list[bytes] = []
    if header:
        prefix = "\ufeff" if department == "civil_affairs" else ""
        lines.append((prefix + _csv_line(header, dict(zip(header, header, strict=True))))
                     .encode(encoding))
    damage = _damage(department, header, records[0])
    injections = [(name_field, SQL_INJECTION), (address_field, SQL_INJECTION),
                  (name_field, HTML_INJECTION), (address_field, HTML_INJECTION)]
    for i, record in enumerate(records):
        corpus.good_ids.append(str(record[id_field]))
        lines.append(_line(department, header, record).encode(encoding))
        if i < len(damage):
            label, line, reasons = damage[i]
            corpus.bad[len(lines) + 1] = Planted(label, line, frozenset(reasons))
            lines.append(line)
        if i < len(injections):
            column, text = injections[i]
            record_id = f"INJ{i}{record[id_field]}"[:32]
            lines.append(_line(department, header, {**record, id_field: record_id,
                                                    column: text}).encode(encoding))
            corpus.good_ids.append(record_id)
            corpus.injected[record_id] = text
    assert all(b"\n" not in line for line in lines), "a planted line must stay one line"
    corpus.path.write_bytes(b"\n".join(lines) + b"\n")
    return corpus


def push_items() -> tuple[list[Any], dict[int, str], dict[str, str]]:
    """A push body's items: sample objects, injections and damaged objects; the index of each
    damaged one with the field its rejection must name; the injected record ids and strings."""
    _, records = _records("social_security")
    good = [{**r, "serial": f"PUSH{r['serial']}"} for r in records[:20]]
    base = good[0]
    injected = {f"PUSHINJ{i}": text for i, text in enumerate([SQL_INJECTION, HTML_INJECTION])}
    good += [{**base, "serial": serial, "aac003": text} for serial, text in injected.items()]
    bad: list[tuple[Any, str]] = [
        ({**base, "serial": "PUSHBAD1", "aac003": "张\x00三"}, "aac003"),
        ({**base, "serial": "PUSHBAD2", "address": "雨城区\x1b[2J"}, "address"),
        ({**base, "serial": "PUSHBAD3", "address": "雨城区\u2028东城"}, "address"),
        ({**base, "serial": "PUSHBAD4", "aac003": _mojibake("张三", "cp1252")}, "aac003"),
        ({**base, "serial": "PUSHBAD5", "aac003": _mojibake("张三", "latin-1")}, "aac003"),
        ({**base, "serial": "PUSHBAD6", "note": MEGABYTE}, "event"),
        ({**base, "serial": "PUSHBAD7", "payload": {"x": float("inf")}}, "payload"),
        ({**base, "serial": "PUSHBAD8", "payload": {"备注": "a\x00b"}}, "payload"),
        ({**base, "serial": ""}, "serial"),
        ({**base, "serial": "PUSHBAD9", "aac006": "19561332"}, "aac006"),
        ("an object expected", "item"),
        (42, "item"),
        (None, "item"),
        ([1, 2], "item"),
    ]
    items: list[Any] = []
    expected: dict[int, str] = {}
    for i, item in enumerate(good):
        items.append(item)
        if i < len(bad):
            expected[len(items)] = bad[i][1]
            items.append(bad[i][0])
    return items, expected, injected


def push_body(items: list[Any]) -> bytes:
    """The items as the department would send them (infinity written as 1e400)."""
    return json.dumps(items, ensure_ascii=False).replace("Infinity", "1e400").encode()


BAD_BODIES = {  # whole push bodies that are no JSON the endpoint can read: 400, nothing taken
    "nested 10,000 levels": DEEP.encode(),
    "UTF-16 with BOM": "\ufeff[{}]".encode("utf-16"),
    "GB18030": '[{"aac003": "张三"}]'.encode("gb18030"),
    "truncated": b'[{"serial": "X1", "aac003": "',
    "a JSON string": b'"text"',
    "empty": b"",
    "NaN": b"[NaN]",
}


def build_large_file(path: Path, rows: int, bad_every: int) -> tuple[int, dict[str, int]]:
    """A civil affairs export of `rows` rows (the sample's, each with a record id of its own),
    every `bad_every`-th damaged in turn by encoding, column count or date; returns the good
    count and the dead letters expected by reason."""
    header, records = _records("civil_affairs")
    body = [_csv_line(header, r).split(",", 1)[1] for r in records]
    damage = [(lambda row: row.encode("gb18030"), "encoding"),
              (lambda row: (row + ",extra").encode(), "column_count"),
              (lambda row: row.replace(",20", ",19561332 ", 1).encode(), "mapping")]
    expected: dict[str, int] = {}
    with open(path, "wb") as file:
        file.write(("\ufeff" + ",".join(header) + "\n").encode())
        chunk: list[bytes] = []
        for i in range(rows):
            row = f"CA{i:014d},{body[i % len(body)]}"
            if i % bad_every == bad_every - 1:
                damage_row, reason = damage[(i // bad_every) % len(damage)]
                chunk.append(damage_row(row))
                expected[reason] = expected.get(reason, 0) + 1
            else:
                chunk.append(row.encode())
            if len(chunk) == 100_000:
                file.write(b"\n".join(chunk) + b"\n")
                chunk = []
        file.write(b"\n".join(chunk) + (b"\n" if chunk else b""))
    return rows - sum(expected.values()), expected
