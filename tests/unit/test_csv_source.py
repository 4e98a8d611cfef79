"""A damaged line is reported on its own, with its reason, bytes and line number."""

from pathlib import Path

import pytest

from connectors.csv_source import MAX_LINE_BYTES, read_csv

HEADER = ["a", "b", "c"]


def _write(tmp_path: Path, body: bytes, encoding: str = "gb18030") -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes("a,b,c\n".encode(encoding) + body)
    return path


def test_good_lines_and_a_missing_final_newline(tmp_path: Path) -> None:
    path = _write(tmp_path, "1,张三,3\n\n4,5,6".encode("gb18030"))
    records = list(read_csv(path, "gb18030", HEADER))
    assert [r.columns for r in records] == [{"a": "1", "b": "张三", "c": "3"},
                                            {"a": "4", "b": "5", "c": "6"}]
    assert [r.origin["line"] for r in records] == [2, 4]


@pytest.mark.parametrize(("line", "reason"), [
    ("1,张三,3\n".encode("gb18030"), "encoding"),
    (b"1,2\n", "column_count"),
    (b'1,"open quote,3\n', "csv"),
    (b"1,2," + b"x" * (MAX_LINE_BYTES + 1) + b"\n", "oversized"),
])
def test_a_damaged_line_becomes_an_error_record(tmp_path: Path, line: bytes, reason: str) -> None:
    path = _write(tmp_path, b"1,2,3\n" + line + b"7,8,9\n")
    records = list(read_csv(path, "utf-8", HEADER))
    assert [r.reason for r in records] == ["", reason, ""]
    bad = records[1]
    assert bad.columns is None and bad.error and bad.origin == {"file": "f.csv", "line": 3}
    assert bad.raw_bytes.startswith(line[:100])


def test_a_bom_before_the_header_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("\ufeffa,b,c\n1,2,3\n".encode())
    assert [r.columns for r in read_csv(path, "utf-8", HEADER)] == [{"a": "1", "b": "2", "c": "3"}]


def test_a_wrong_header_stops_before_any_record(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"x,y\n1,2\n")
    with pytest.raises(ValueError, match="header"):
        list(read_csv(path, "utf-8", HEADER))


def test_reading_resumes_at_a_position_it_yielded(tmp_path: Path) -> None:
    path = _write(tmp_path, "1,张三,3\n4,5,6\n\n7,8,9\n".encode("gb18030"))
    records = list(read_csv(path, "gb18030", HEADER))
    resumed = list(read_csv(path, "gb18030", HEADER, start=records[0].position))
    assert resumed == records[1:]
    assert list(read_csv(path, "gb18030", HEADER, start=records[-1].position)) == []
