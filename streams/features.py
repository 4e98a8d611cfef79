"""What identity resolution and survivorship read from a canonical event (pure, no I/O).

`RecordFeatures` is a record's comparable identity (normalized name, pinyin, ID number, birth
date, sex, addresses, phone); the facts it states are streams/facts.py's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from connectors.fields import id_sex
from schemas.departments import department
from streams.normalize import name_pinyin, normalize_name
from streams.normalize_address import Address, parse_address


@dataclass(frozen=True)
class RecordFeatures:
    """One department record's identity features; `ref` is `source:record_id`."""

    ref: str
    source: str
    person_key: str | None = None  # the department's own person number, scoped by department
    id_number: str | None = None  # valid 18-character number the record states of itself
    id_digits: str | None = None  # an invalid number's characters, for near-miss comparison
    id_suspect: bool = False  # valid, but contradicts the record's own sex or birth date
    name: str | None = None
    pinyin: str = ""
    birth: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    sex: str | None = None
    addresses: tuple[Address, ...] = field(default_factory=tuple)
    phone: str | None = None
    version: str = ""  # orders corrections of one record: the later version wins
    address_texts: tuple[str, ...] = ()  # the addresses as written (what the store keeps)


def department_of(event: dict[str, Any]) -> str:
    return event["source"].rsplit("/", 1)[-1]


def record_ref(event: dict[str, Any]) -> str:
    return f"{department_of(event)}:{event['subject']}"


def features_of(event: dict[str, Any]) -> RecordFeatures:
    """The identity features of one canonical event, read as its department declares."""
    declared = department(department_of(event))
    source = declared.id
    parsed = event["data"]["parsed"]
    id_number = parsed.get("id_number") or {}
    normalized = id_number.get("normalized")
    name = normalize_name(parsed.get("name"))
    texts = tuple(t for t in (parsed.get(k) for k in declared.addresses)
                  if parse_address(t) is not None)
    origin = event["data"].get("origin") or {}
    updated = origin.get(declared.live.updated) if declared.live.updated else None
    return RecordFeatures(
        ref=record_ref(event),
        source=source,
        person_key=f"{source}:{parsed['person_key']}" if parsed.get("person_key") else None,
        id_number=normalized,
        id_digits=None if normalized else _digits(id_number.get("original")),
        id_suspect=bool(normalized) and number_contradicts_record(normalized, parsed),
        name=name,
        pinyin=name_pinyin(name) if name else "",
        birth=parsed.get("birth_date"),
        sex=parsed.get("sex"),
        addresses=addresses_of(texts),
        phone=parsed.get("phone"),
        version=record_version(updated, event["id"]),
        address_texts=texts,
    )


def addresses_of(texts: tuple[str, ...]) -> tuple[Address, ...]:
    """Parsed addresses (the parser caches: a resident's addresses are parsed again often)."""
    return tuple(a for a in map(parse_address, texts) if a is not None)


NO_UPDATE_TIME = "0000-00-00 00:00:00+00"  # before any time a department stamps


def record_version(update_time: str | None, event_id: str) -> str:
    """What orders one record's versions: the department's update time (its live table's
    `updated` column), then the event id. A version without one (an export row, a file drop)
    comes before any with one, so a correction the live stream sends replaces the row the
    export gave."""
    return f"{update_time or NO_UPDATE_TIME}|{event_id}"


def _digits(original: str | None) -> str | None:
    if not original:
        return None
    text = unicodedata.normalize("NFKC", "".join(original.split())).upper()  # full-width too
    return text if 15 <= len(text) <= 18 else None


def number_contradicts_record(id_number: str, parsed: dict[str, Any]) -> bool:
    """A valid number whose sex or whole birth date is not the record's: someone else's (a
    relative's number typed by mistake)."""
    if parsed.get("sex") and parsed["sex"] != id_sex(id_number):
        return True
    birth = parsed.get("birth_date")
    if birth and len(birth) == 10:  # YYYY-MM-DD against the number's YYYYMMDD, part by part
        stated = (birth[:4], birth[5:7], birth[8:])
        embedded = (id_number[6:10], id_number[10:12], id_number[12:14])
        return sum(a != b for a, b in zip(stated, embedded, strict=True)) >= 2
    return False
