"""公安 police population (实有人口): the export's and `t_rk_bdjl`'s columns to events."""

from __future__ import annotations

from typing import Any

from connectors.fields import FieldError, parse_date, parse_phone, parse_sex
from connectors.records import id_number_field, optional_text, parse_column, required_text
from schemas.events import make_event

DEPARTMENT = "police"
EVENT_TYPE = "hub.police.population_change"
CSV_ENCODING = "gb18030"

# CSV header -> (column of t_rk_bdjl, canonical field name)
COLUMNS = {
    "变动流水号": ("bdlsh", "record_id"),
    "人员编号": ("rybh", "person_key"),
    "公民身份号码": ("gmsfhm", "id_number"),
    "姓名": ("xm", "name"),
    "性别": ("xb", "sex"),
    "民族": ("mz", "ethnicity"),
    "出生日期": ("csrq", "birth_date"),
    "户籍地址": ("hjdz", "hukou_address"),
    "现住址": ("xzz", "residence_address"),
    "联系电话": ("lxdh", "phone"),
    "人员类别": ("rylb", "population_type"),
    "变动类型": ("bdlx", "change_type"),
    "变动日期": ("bdrq", "changed_on"),
}
CSV_HEADER = list(COLUMNS)
# The police system's own table, as the contract gives it (tests and the demo create it as a
# stand-in for the police database).
TABLE_DDL = """CREATE TABLE t_rk_bdjl (
  bdlsh varchar(32) PRIMARY KEY, rybh varchar(32) NOT NULL, gmsfhm varchar(18), xm varchar(50),
  xb varchar(2), mz varchar(20), csrq varchar(10), hjdz varchar(200), xzz varchar(200),
  lxdh varchar(20), rylb varchar(10), bdlx varchar(20), bdrq varchar(10),
  gxsj timestamptz NOT NULL DEFAULT now())"""
POPULATION_TYPES = {"户籍人口": "registered", "流动人口": "floating"}
CHANGE_TYPES = {"户籍登记", "出生登记", "流动人口登记", "居住证办理", "住址变更", "死亡注销"}


def _population_type(value: Any) -> str | None:
    text = optional_text(value)
    if text is not None and text not in POPULATION_TYPES:
        raise FieldError(f"unknown population type {text!r}")
    return None if text is None else POPULATION_TYPES[text]


def _change_type(value: Any) -> str | None:
    text = optional_text(value)
    if text is not None and text not in CHANGE_TYPES:
        raise FieldError(f"unknown change type {text!r}")
    return text


def police_event(columns: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    """One police change record (CSV header names as keys) as a canonical event."""
    record_id = required_text(columns, "变动流水号")
    birth = parse_column(columns, "出生日期", parse_date)
    changed = parse_column(columns, "变动日期", parse_date)
    parsed = {
        "record_id": record_id,
        "person_key": required_text(columns, "人员编号"),
        "id_number": id_number_field(columns, "公民身份号码"),
        "name": parse_column(columns, "姓名", optional_text),
        "sex": parse_column(columns, "性别", parse_sex),
        "ethnicity": parse_column(columns, "民族", optional_text),
        "birth_date": None if birth is None else birth.iso(),
        "hukou_address": parse_column(columns, "户籍地址", optional_text),
        "residence_address": parse_column(columns, "现住址", optional_text),
        "phone": parse_column(columns, "联系电话", parse_phone),
        "population_type": parse_column(columns, "人员类别", _population_type),
        "change_type": parse_column(columns, "变动类型", _change_type),
        "occurred": None if changed is None else changed.iso(),
    }
    raw = {header: columns.get(header) for header in CSV_HEADER}
    return make_event(department=DEPARTMENT, event_type=EVENT_TYPE, record_id=record_id,
                      raw=raw, parsed=parsed, origin=origin)
