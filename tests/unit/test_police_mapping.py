"""The police export's rows become canonical events; bad rows fail naming the column."""


import pytest

from connectors.csv_source import read_csv
from connectors.records import MappingError
from tests.samples import SAMPLE, encoding, header, mapping

CSV_ENCODING, CSV_HEADER, police_event = encoding("police"), header("police"), mapping("police")

ORIGIN = {"file": "x.csv", "line": 2}


def _row(**overrides: str) -> dict[str, str]:
    row = dict(zip(CSV_HEADER, [
        "GA201501270000190", "R51182500000164", "511825195612111903", "沈宇杰", "女", "汉族",
        "1956-12-11", "四川省雅安市天全县城厢镇太平村12组53号", "天全县太平村12组53号",
        "13972094526", "户籍人口", "户籍登记", "20150127"], strict=True))
    return {**row, **overrides}


def test_every_sample_row_maps() -> None:
    records = list(read_csv(SAMPLE / "police_population.csv", CSV_ENCODING, CSV_HEADER))
    assert len(records) == 467
    assert all(r.columns is not None for r in records)
    events = [police_event(r.columns, r.origin) for r in records]
    assert len({e["id"] for e in events}) == 467
    assert {e["data"]["parsed"]["population_type"] for e in events} <= {"registered", "floating"}


def test_raw_values_travel_verbatim_beside_parsed_ones() -> None:
    event = police_event(_row(公民身份号码="51182519561211190x"), ORIGIN)
    data = event["data"]
    assert data["raw"]["公民身份号码"] == "51182519561211190x"
    assert data["raw"]["变动日期"] == "20150127"
    assert data["parsed"]["occurred"] == "2015-01-27"
    assert data["parsed"]["sex"] == "F"
    assert data["origin"] == ORIGIN
    assert event["subject"] == "GA201501270000190"


@pytest.mark.parametrize(("column", "value", "message"), [
    ("变动流水号", "", "变动流水号: missing"),
    ("人员编号", " ", "人员编号: missing"),
    ("出生日期", "1956-13-11", "出生日期: "),
    ("性别", "X", "性别: "),
    ("人员类别", "常住", "人员类别: unknown population type '常住'"),
    ("变动类型", "迁出", "变动类型: unknown change type '迁出'"),
])
def test_a_bad_value_names_its_column(column: str, value: str, message: str) -> None:
    with pytest.raises(MappingError, match=f"^{message}"):
        police_event(_row(**{column: value}), ORIGIN)


def test_a_mistyped_id_number_is_data_not_an_error() -> None:
    parsed = police_event(_row(公民身份号码="511825195612111904"), ORIGIN)["data"]["parsed"]
    assert parsed["id_number"] == {"original": "511825195612111904", "normalized": None}
