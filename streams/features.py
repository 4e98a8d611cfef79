"""What identity resolution and survivorship read from a canonical event (pure, no I/O).

`RecordFeatures` is a record's comparable identity (normalized name, pinyin, ID number, birth
date, sex, addresses, phone); the facts it states are streams/facts.py's.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import msgspec

from connectors.fields import id_sex
from schemas.declarations import SPOUSE, Condition, Department
from schemas.departments import department
from streams.normalize import name_pinyin, normalize_name
from streams.normalize_address import Address, parse_address


class RecordFeatures(msgspec.Struct, frozen=True):
    """One department record's identity features; `ref` is `source:record_id`."""

    ref: str
    source: str
    person_key: str | None = None  # the department's own person number, scoped by department
    id_number: str | None = None  # valid 18-character number the record states of itself
    id_digits: str | None = None  # an invalid number's characters, for near-miss comparison
    id_suspect: bool = False  # valid, but evidently a relative's (number_contradicts_record)
    name: str | None = None
    pinyin: str = ""
    birth: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    sex: str | None = None
    addresses: tuple[Address, ...] = ()
    phone: str | None = None
    version: str = ""  # orders corrections of one record: the later version wins
    address_texts: tuple[str, ...] = ()  # the addresses as written (what the store keeps)
    spouses: frozenset[str] = frozenset()  # valid numbers the record names as its spouse's

    @property
    def trusted_id(self) -> str | None:
        """The valid number the matcher takes as the record's own (not a relative's)."""
        return None if self.id_suspect else self.id_number


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
        id_suspect=bool(normalized) and number_contradicts_record(
            normalized, parsed, relatives_named(parsed, declared)),
        name=name,
        pinyin=name_pinyin(name) if name else "",
        birth=parsed.get("birth_date"),
        sex=parsed.get("sex"),
        addresses=addresses_of(texts),
        phone=parsed.get("phone"),
        version=record_version(updated, event["id"]),
        address_texts=texts,
        spouses=relatives_named(parsed, declared, SPOUSE),
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


def field_at(parsed: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`details.月保障金额`); None where any step is missing."""
    value: Any = parsed
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def applies(parsed: dict[str, Any], if_: tuple[Condition, ...],
            unless: tuple[Condition, ...]) -> bool:
    """Whether a declared rule's conditions hold for a record."""
    return (all(parsed.get(c.field) in c.values for c in if_)
            and not any(parsed.get(c.field) in c.values for c in unless))


def relatives_named(parsed: dict[str, Any], declared: Department,
                    kind: str | None = None) -> frozenset[str]:
    """The valid ID numbers the record gives as its relatives' (a spouse, a parent); of one
    `kind` only, where the rule's conditions hold, when a kind is given."""
    numbers = (field_at(parsed, rule.id_number) for rule in declared.relations
               if kind is None or (rule.kind == kind and applies(parsed, rule.if_, rule.unless)))
    return frozenset(n["normalized"] for n in numbers
                     if isinstance(n, dict) and n.get("normalized"))


def number_contradicts_record(id_number: str, parsed: dict[str, Any],
                              named: frozenset[str] = frozenset()) -> bool:
    """Whether a valid number is evidently someone else's (a relative's typed by mistake), not
    the record's own: the record names it as a relative's, or it contradicts both the record's
    sex and its birth date, or the birth date beyond a clerk's slip. One contradicting field
    within a slip (the wrong sex ticked, month and day swapped, a day or a year off, a digit
    mistyped) is the clerk's, and the number stays the record's own."""
    if id_number in named:
        return True
    birth = parsed.get("birth_date") or ""
    embedded = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"[:len(birth)]
    birth_differs = birth != embedded  # a partial date (1956-03) against the number's prefix
    if birth_differs and not date_slip(birth, embedded):
        return True
    sex_differs = bool(parsed.get("sex")) and parsed["sex"] != id_sex(id_number)
    return sex_differs and birth_differs


def date_slip(a: str, b: str) -> bool:
    """Whether two different dates of one precision (YYYY, YYYY-MM or YYYY-MM-DD) are one
    clerk's slip apart: one digit mistyped, the same day a year off, or (whole dates) month and
    day swapped or a day off."""
    if len(a) != len(b) or len(a) not in (4, 7, 10):
        return False
    if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
        return True
    if a[:4] == b[:4] and a[5:7] == b[8:] and a[8:] == b[5:7]:
        return True
    if a[4:] == b[4:] and abs(int(a[:4]) - int(b[:4])) == 1:
        return True
    try:
        return abs(date.fromisoformat(a).toordinal() - date.fromisoformat(b).toordinal()) == 1
    except ValueError:
        return False
