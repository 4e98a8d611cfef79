"""民政 civil affairs business registrations: the export's columns (.csv or .xlsx) to events."""

from __future__ import annotations

import json
from typing import Any

from connectors.fields import FieldError, parse_date, parse_phone, parse_sex
from connectors.records import (
    MappingError,
    id_number_field,
    optional_text,
    parse_column,
    required_text,
)
from schemas.events import canonical_json, make_event

DEPARTMENT = "civil_affairs"
EVENT_TYPE = "hub.civil_affairs.registration"
CSV_ENCODING = "utf-8"  # the export has a BOM; read_csv strips it from the header

# CSV header -> canonical field name
COLUMNS = {
    "业务流水号": "record_id",
    "业务类型": "business_type",
    "身份证号": "id_number",
    "姓名": "name",
    "性别": "sex",
    "出生年月": "birth_date",
    "家庭住址": "address",
    "联系方式": "phone",
    "办理日期": "occurred",
    "业务内容": "details",
}
CSV_HEADER = list(COLUMNS)
MAX_RECORD_ID = 64  # the envelope's limit on `subject`
BUSINESS_TYPES = {"结婚登记", "低保认定", "高龄津贴发放", "残疾人两项补贴", "火化登记"}


def _business_type(value: Any) -> str:
    text = optional_text(value)
    if text is None:
        raise FieldError("missing")
    if text not in BUSINESS_TYPES:
        raise FieldError(f"unknown business type {text!r}")
    return text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def _details(value: Any) -> dict[str, Any] | None:
    """业务内容 as a JSON object; NaN, duplicate keys and lone surrogates are refused too."""
    text = optional_text(value)
    if text is None:
        return None
    try:
        details = json.loads(text, object_pairs_hook=_unique_keys,
                             parse_constant=_refuse_constant)
        canonical_json(details)  # "\ud800" parses but could never be published
    except (ValueError, RecursionError) as error:
        raise FieldError(f"broken JSON ({error}) {text[:200]!r}") from None
    if not isinstance(details, dict):
        raise FieldError(f"expected a JSON object, got {type(details).__name__} {text[:200]!r}")
    return details


def _details_id_numbers(details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ID number inside the details (配偶身份证号, ...), parsed beside the one it sits in."""
    numbers = {}
    for key, value in details.items():
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if key.endswith("身份证号") and isinstance(text, str):
            number = id_number_field({key: text}, key)
            if number is not None:
                numbers[key] = number
    return numbers


def _details_dates(details: dict[str, Any]) -> dict[str, str]:
    """Every readable date inside the details (死亡日期, ...); an unreadable one stays raw only."""
    dates = {}
    for key, value in details.items():
        if key.endswith("日期"):
            try:
                when = parse_date(value)
            except FieldError:
                continue
            if when is not None:
                dates[key] = when.iso()
    return dates


def civil_affairs_event(columns: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    """One civil affairs registration (CSV header names as keys) as a canonical event."""
    record_id = required_text(columns, "业务流水号")
    if len(record_id) > MAX_RECORD_ID:
        raise MappingError(f"业务流水号: longer than {MAX_RECORD_ID} characters {record_id[:80]!r}")
    business_type = parse_column(columns, "业务类型", _business_type)
    birth = parse_column(columns, "出生年月", parse_date)
    handled = parse_column(columns, "办理日期", parse_date)
    details = parse_column(columns, "业务内容", _details)
    parsed = {
        "record_id": record_id,
        "business_type": business_type,
        "id_number": id_number_field(columns, "身份证号"),
        "name": parse_column(columns, "姓名", optional_text),
        "sex": parse_column(columns, "性别", parse_sex),
        "birth_date": None if birth is None else birth.iso(),
        "address": parse_column(columns, "家庭住址", optional_text),
        "phone": parse_column(columns, "联系方式", parse_phone),
        "occurred": None if handled is None else handled.iso(),
        "details": details,
        "details_id_numbers": {} if details is None else _details_id_numbers(details),
        "details_dates": {} if details is None else _details_dates(details),
    }
    raw = {header: columns.get(header) for header in CSV_HEADER}
    return make_event(department=DEPARTMENT, event_type=EVENT_TYPE, record_id=record_id,
                      raw=raw, parsed=parsed, origin=origin)
