"""One department record to its canonical event, as the department's declaration says (pure)."""

from __future__ import annotations

from typing import Any

from connectors.fields import FieldError
from connectors.records import MappingError
from connectors.value_parsers import PARSERS
from schemas.declarations import Department
from schemas.events import canonical_json, make_event


def parsed_fields(department: Department, columns: dict[str, Any]) -> dict[str, Any]:
    """Every declared field's canonical value; MappingError naming the first bad column."""
    parsed: dict[str, Any] = {}
    for spec in department.fields:
        value = parsed[spec.derived_from] if spec.derived_from else columns.get(spec.column)
        name = spec.column or spec.field
        try:
            result = PARSERS[spec.parse](value, spec)
        except FieldError as error:
            raise MappingError(f"{name}: {error}") from error
        if result is None and spec.required:
            raise MappingError(f"{name}: missing")
        if spec.max_length is not None and isinstance(result, str) \
                and len(result) > spec.max_length:
            raise MappingError(f"{name}: longer than {spec.max_length} characters "
                               f"{result[:80]!r}")
        parsed[spec.field] = result
    return parsed


def _storable_json(columns: dict[str, Any]) -> bytes:
    """The columns' canonical JSON (what the event id is hashed over); MappingError naming the
    first column no event could hold (lone surrogates from "\\ud800" escapes in JSON)."""
    try:
        return canonical_json(columns)
    except (ValueError, TypeError, RecursionError):
        pass
    for key, value in columns.items():
        try:
            canonical_json({key: value})
        except (ValueError, TypeError, RecursionError) as error:
            name = str(key).encode("utf-8", "backslashreplace").decode()
            raise MappingError(f"{name}: cannot be stored as JSON ({error})") from None
    raise MappingError("the record cannot be stored as JSON")


def to_event(department: Department, columns: dict[str, Any], origin: dict[str, Any]
             ) -> dict[str, Any]:
    """The canonical event of one record (export header names or JSON keys as `columns`): its
    raw values verbatim, the parsed ones beside them, and where it came from."""
    raw_json = _storable_json(columns)
    parsed = parsed_fields(department, columns)
    return make_event(department=department.id, event_type=department.event_type,
                      record_id=parsed["record_id"], raw=dict(columns), parsed=parsed,
                      origin=origin, time=parsed[department.time_field]
                      if department.time_field else None, raw_json=raw_json)
