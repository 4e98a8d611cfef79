"""Civil affairs rows become the same events from .csv and .xlsx; bad rows name the column."""

import csv
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from connectors.csv_source import read_csv
from connectors.records import MappingError
from connectors.xlsx_source import read_xlsx
from schemas.registry import validation_errors
from tests.samples import SAMPLE, encoding, header, mapping

CSV_ENCODING, CSV_HEADER = encoding("civil_affairs"), header("civil_affairs")
civil_affairs_event = mapping("civil_affairs")

SAMPLE_CSV = SAMPLE / "civil_affairs.csv"
ORIGIN = {"file": "x.csv", "line": 2}


def _row(**overrides: str) -> dict[str, str]:
    row = dict(zip(CSV_HEADER, [
        "MZ20190700000045", "结婚登记", "511803198111163399", "曾霞萱", "男", "1981年11月",
        "四川省雅安市名山区百丈镇兴隆社区文化路144号8栋3单元1002室", "18362999600", "2019年7月9日",
        '{"配偶姓名": "龙芳", "配偶身份证号": "511803198809105641"}'], strict=True))
    return {**row, **overrides}


def _sample_rows() -> list[list[str]]:
    with open(SAMPLE_CSV, encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def _write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(list(row))
    workbook.save(path)
    return path


def test_every_sample_row_maps() -> None:
    data_rows = len(_sample_rows()) - 1
    assert data_rows == 199
    records = list(read_csv(SAMPLE_CSV, CSV_ENCODING, CSV_HEADER))
    assert len(records) == data_rows
    assert all(r.columns is not None for r in records)
    events = [civil_affairs_event(r.columns, r.origin) for r in records]
    assert len({e["id"] for e in events}) == data_rows
    assert [validation_errors(e) for e in events] == [[]] * data_rows
    parsed = [e["data"]["parsed"] for e in events]
    assert {p["sex"] for p in parsed} == {"M", "F"}
    assert all(p["occurred"] and p["details"] for p in parsed)
    marriages = [p for p in parsed if p["business_type"] == "结婚登记"]
    assert marriages and all("配偶身份证号" in p["details_id_numbers"] for p in marriages)


def test_an_xlsx_export_gives_the_same_events_as_the_csv(tmp_path: Path) -> None:
    # Text cells hold exactly the CSV's text: same raw values, hence the same event ids.
    path = _write_xlsx(tmp_path / "civil.xlsx", _sample_rows())
    from_csv = [civil_affairs_event(r.columns, r.origin)
                for r in read_csv(SAMPLE_CSV, CSV_ENCODING, CSV_HEADER)]
    records = list(read_xlsx(path, CSV_HEADER))
    from_xlsx = [civil_affairs_event(r.columns, r.origin) for r in records]
    assert [e["id"] for e in from_xlsx] == [e["id"] for e in from_csv]
    assert [e["data"]["parsed"] for e in from_xlsx] == [e["data"]["parsed"] for e in from_csv]
    assert records[0].origin == {"file": "civil.xlsx", "row": 2}
    assert json.loads(records[0].raw_bytes) == _sample_rows()[1]


def test_typed_cells_read_as_the_text_a_csv_export_holds(tmp_path: Path) -> None:
    text = _row(办理日期="2019-07-09", 业务内容='{"月保障金额": 720}')
    typed: list[Any] = list(text.values())
    typed[7], typed[8] = 18362999600, datetime(2019, 7, 9)
    path = _write_xlsx(tmp_path / "t.xlsx", [CSV_HEADER, typed, [*typed[:7], 18362999600.0]])
    records = list(read_xlsx(path, CSV_HEADER))
    assert records[0].columns == text
    assert records[1].columns == {**text, "办理日期": "", "业务内容": ""}


def test_partial_dates_stay_partial() -> None:
    parsed = civil_affairs_event(_row(出生年月="1956年3月"), ORIGIN)["data"]["parsed"]
    assert parsed["birth_date"] == "1956-03"
    assert civil_affairs_event(_row(出生年月=""), ORIGIN)["data"]["parsed"]["birth_date"] is None


def test_raw_values_travel_verbatim_beside_parsed_ones() -> None:
    details = '{"死亡日期": "2025年3月3日", "火化地点": "雅安市殡仪馆", "注销日期": "不详"}'
    event = civil_affairs_event(_row(业务类型="火化登记", 身份证号="51180319811116339x",
                                     姓名=" 陳 霞萱 ", 业务内容=details), ORIGIN)
    data = event["data"]
    assert data["raw"] == _row(业务类型="火化登记", 身份证号="51180319811116339x",
                               姓名=" 陳 霞萱 ", 业务内容=details)
    assert data["parsed"]["name"] == "陳 霞萱"
    assert data["parsed"]["occurred"] == "2019-07-09"
    assert data["parsed"]["details"]["死亡日期"] == "2025年3月3日"
    assert data["parsed"]["details_dates"] == {"死亡日期": "2025-03-03"}
    assert data["parsed"]["details_id_numbers"] == {}
    assert data["origin"] == ORIGIN and event["subject"] == "MZ20190700000045"


def test_id_numbers_inside_the_details_are_parsed_beside_them() -> None:
    parsed = civil_affairs_event(_row(业务内容='{"配偶身份证号": "51180319880910564"}'),
                                 ORIGIN)["data"]["parsed"]
    assert parsed["details_id_numbers"] == {
        "配偶身份证号": {"original": "51180319880910564", "normalized": None}}
    assert parsed["id_number"] == {"original": "511803198111163399",
                                   "normalized": "511803198111163399"}


@pytest.mark.parametrize(("column", "value", "message"), [
    ("业务流水号", "", "业务流水号: missing"),
    ("业务流水号", "MZ" + "0" * 63, "业务流水号: longer than 64 characters"),
    ("业务类型", "", "业务类型: missing"),
    ("业务类型", "临时救助", "业务类型: unknown business type '临时救助'"),
    ("办理日期", "2019-02-30", "办理日期: impossible date '2019-02-30'"),
    ("出生年月", "1956年13月", "出生年月: impossible date"),
    ("业务内容", '{"配偶姓名": "龙芳"', "业务内容: broken JSON"),
    ("业务内容", "[1, 2]", "业务内容: expected a JSON object, got list"),
    ("业务内容", '{"月保障金额": NaN}', "业务内容: broken JSON"),
    ("业务内容", '{"a": 1, "a": 2}', "业务内容: broken JSON"),
    ("业务内容", '{"a": "\\ud800"}', "业务内容: broken JSON"),
    ("业务内容", "[" * 100_000, "业务内容: broken JSON"),
    ("性别", "未知", "性别: unknown sex '未知'"),
    ("联系方式", "1836299960", "联系方式: mobile number"),
])
def test_a_bad_value_names_its_column(column: str, value: str, message: str) -> None:
    with pytest.raises(MappingError, match=f"^{re.escape(message)}"):
        civil_affairs_event(_row(**{column: value}), ORIGIN)


_json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
).map(lambda value: json.dumps({"死亡日期": value, "配偶身份证号": value, "x": value}))


@given(st.fixed_dictionaries({h: st.text() | _json_text for h in CSV_HEADER}))
def test_arbitrary_text_fails_only_with_a_mapping_error(columns: dict[str, str]) -> None:
    try:
        event = civil_affairs_event(columns, ORIGIN)
    except MappingError as error:
        assert str(error).split(":")[0] in CSV_HEADER
    else:
        json.dumps(event["data"], allow_nan=False)
        assert validation_errors(event) == []


@given(st.sampled_from(CSV_HEADER), st.text() | _json_text)
def test_arbitrary_text_in_one_column_fails_only_naming_it(column: str, value: str) -> None:
    try:
        event = civil_affairs_event(_row(**{column: value}), ORIGIN)
    except MappingError as error:
        assert str(error).startswith(f"{column}: ")
    else:
        json.dumps(event["data"], allow_nan=False)
        assert validation_errors(event) == []


def test_a_wrong_header_stops_before_any_row(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "w.xlsx", [CSV_HEADER[:-1], _row().values()])
    with pytest.raises(ValueError, match="w.xlsx: header"):
        list(read_xlsx(path, CSV_HEADER))


def test_xlsx_rows_skip_blanks_flag_extra_cells_and_resume(tmp_path: Path) -> None:
    good = list(_row().values())
    rows = [CSV_HEADER, good, [], [None] * 12, [*good, None, "extra"], good[:3], good]
    path = _write_xlsx(tmp_path / "r.xlsx", rows)
    records = list(read_xlsx(path, CSV_HEADER))
    assert [r.position for r in records] == [2, 5, 6, 7]
    assert [r.reason for r in records] == ["", "column_count", "", ""]
    assert records[1].columns is None and records[1].error == "12 columns, expected 10"
    assert json.loads(records[1].raw_bytes) == [*good, None, "extra"]
    assert records[2].columns == {**_row(), **dict.fromkeys(CSV_HEADER[3:], "")}
    assert list(read_xlsx(path, CSV_HEADER, start=records[1].position)) == records[2:]
    assert list(read_xlsx(path, CSV_HEADER, start=records[-1].position)) == []


def test_a_wrong_sheet_dimension_loses_no_rows(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "d.xlsx", [CSV_HEADER, _row().values(), _row().values()])
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', parts[sheet])
    with zipfile.ZipFile(path, "w") as target:
        for name, content in parts.items():
            target.writestr(name, content)
    assert [r.columns for r in read_xlsx(path, CSV_HEADER)] == [_row(), _row()]
