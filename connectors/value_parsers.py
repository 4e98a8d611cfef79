"""The value parsers a declaration's fields name (`parse = "date"`), each raw value to its
canonical form (pure). A parser returns None for a missing value and raises FieldError for one it
cannot read; the mapping names the column in the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from connectors.fields import (
    FieldError,
    check_text,
    parse_date,
    parse_id_number,
    parse_phone,
    parse_sex,
    parse_sex_code,
    parse_timestamp,
)
from schemas.declarations import FieldSpec
from schemas.events import canonical_json

Parser = Callable[[Any, FieldSpec], Any]


def text(value: Any, spec: FieldSpec) -> str | None:
    """Blank or missing text becomes None; anything else is kept, stripped."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"expected text, got {type(value).__name__} {value!r}")
    return check_text(value.strip()) or None


def id_number(value: Any, spec: FieldSpec) -> dict[str, str | None] | None:
    """The number verbatim and its valid 18-character form (None when it is not valid): a
    mistyped number is data, never an error."""
    number = parse_id_number(value)
    return None if number is None else {"original": number.original,
                                        "normalized": number.normalized}


def date(value: Any, spec: FieldSpec) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD: a date known to the month stays partial."""
    return _iso_date(value) if isinstance(value, str) else _iso_date.__wrapped__(value)


@lru_cache(maxsize=1 << 16)  # a city's dates of birth and of record repeat across its records
def _iso_date(value: Any) -> str | None:
    when = parse_date(value)
    return None if when is None else when.iso()


def timestamp(value: Any, spec: FieldSpec) -> str | None:
    """ISO 8601 with a UTC offset in whole minutes (RFC 3339, what CloudEvents' time takes)."""
    moment = parse_timestamp(value)
    if moment is None:
        return None
    if moment.utcoffset() % timedelta(minutes=1):
        raise FieldError(f"UTC offset not in whole minutes {value!r}")
    return moment.isoformat()


def choice(value: Any, spec: FieldSpec) -> Any:
    """One of the declared spellings, as its canonical value."""
    spelled = text(value, spec)
    if spelled is None:
        return None
    assert spec.choices is not None  # the declaration's reader checked it
    if spelled not in spec.choices:
        raise FieldError(f"unknown {spec.what} {spelled!r}")
    return spec.choices[spelled]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def json_object(value: Any, spec: FieldSpec) -> dict[str, Any] | None:
    """A JSON object written as text in one column; NaN, duplicate keys and lone surrogates
    are refused too."""
    written = text(value, spec)
    if written is None:
        return None
    try:
        found = json.loads(written, object_pairs_hook=_unique_keys,
                           parse_constant=_refuse_constant)
        canonical_json(found)  # "\ud800" parses but could never be published
    except (ValueError, RecursionError) as error:
        raise FieldError(f"broken JSON ({error}) {written[:200]!r}") from None
    if not isinstance(found, dict):
        raise FieldError(f"expected a JSON object, got {type(found).__name__} {written[:200]!r}")
    return found


def json_value_object(value: Any, spec: FieldSpec) -> dict[str, Any] | None:
    """An object inside a JSON record (a push or a JSON-lines export), or null."""
    if value is not None and not isinstance(value, dict):
        raise FieldError(f"expected a JSON object or null, got {type(value).__name__}")
    return value


def id_numbers_by_key(value: Any, spec: FieldSpec) -> dict[str, dict[str, Any]]:
    """Every ID number inside an object, under the keys ending with `key_suffix`."""
    numbers = {}
    for key, item in (value or {}).items():
        spelled = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if key.endswith(spec.key_suffix or "") and isinstance(spelled, str):
            number = id_number(spelled, spec)
            if number is not None:
                numbers[key] = number
    return numbers


def dates_by_key(value: Any, spec: FieldSpec) -> dict[str, str]:
    """Every readable date inside an object, under the keys ending with `key_suffix`; an
    unreadable one stays in the object only."""
    dates = {}
    for key, item in (value or {}).items():
        if key.endswith(spec.key_suffix or ""):
            try:
                when = date(item, spec)
            except FieldError:
                continue
            if when is not None:
                dates[key] = when
    return dates


PARSERS: dict[str, Parser] = {
    "text": text,
    "id_number": id_number,
    "sex": lambda value, spec: parse_sex(value),
    "sex_code": lambda value, spec: parse_sex_code(value),
    "date": date,
    "timestamp": timestamp,
    "phone": lambda value, spec: parse_phone(value),
    "choice": choice,
    "json_object": json_object,
    "object": json_value_object,
    "id_numbers_by_key": id_numbers_by_key,
    "dates_by_key": dates_by_key,
}
DERIVING = ("id_numbers_by_key", "dates_by_key")  # read another field, not a column
