"""JSON text for the store's jsonb parameters (pure).

orjson writes the documents the merge stores (features, observations, history, golden records,
events) faster than `json.dumps`; where it refuses a value (an integer beyond 64 bits, which a
department's payload may hold), the standard library writes it, so no value is changed or lost.
Text that is hashed (conflict fingerprints) keeps `json.dumps`: its bytes must not change
between versions.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_text(value: Any) -> str:
    """`value` as JSON text, UTF-8 characters unescaped (as `json.dumps(ensure_ascii=False)`)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False)
