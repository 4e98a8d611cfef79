"""JSON text for the store's jsonb parameters (pure).

orjson writes the documents the merge stores (features, observations, history, golden records,
events) faster than `json.dumps`; where it refuses a value (an integer beyond 64 bits, which a
department's payload may hold), the standard library writes it, so no value is changed or lost.
Text that is hashed (conflict fingerprints) keeps `json.dumps`: its bytes must not change
between versions. `json_value` reads either back: orjson reads an integer beyond 64 bits as a
float, so a text holding 19 digits in a row is read by the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")  # 2**63 has 19 digits: maybe beyond orjson's integers
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def json_text(value: Any) -> str:
    """`value` as JSON text, UTF-8 characters unescaped (as `json.dumps(ensure_ascii=False)`)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False)


def json_value(text: str | bytes) -> Any:
    """The value `json_text` wrote (or any JSON), integers of any size kept integers."""
    found = (_LONG_DIGITS if isinstance(text, str) else _LONG_DIGITS_BYTES).search(text)
    if found:
        return json.loads(text)
    return orjson.loads(text)
