"""What the processor accepts from a raw topic: canonical events whose numbers jsonb can hold."""

from __future__ import annotations

import json

import pytest

from streams.app import parse_event

ENVELOPE = {"id": "e1", "source": "sanwang/social_security", "subject": "SS1"}


def test_a_canonical_event_reads_back_with_its_numbers_exact() -> None:
    event = {**ENVELOPE, "data": {"parsed": {"月养老金": 3120.5, "big": 10**30}}}
    assert parse_event(json.dumps(event).encode()) == event


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_a_number_jsonb_cannot_hold_is_refused_naming_it(number: str) -> None:
    raw = f'{{"id": "e1", "source": "s", "subject": "x", "data": {{"amount": {number}}}}}'
    with pytest.raises(ValueError, match=number.lstrip("-")):
        parse_event(raw.encode())


@pytest.mark.parametrize("raw", [b"[]", b'{"id": "e1"}', b"not json"])
def test_anything_but_an_event_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_event(raw)
