"""The event contracts as files: JSON Schemas by type and version, and validation against them.

`schemas/events/envelope.v1.json` checks every department's event; `<type>.v<N>.json` (each
department's beside its declaration in departments/events/) checks an event's `data.parsed` of
that type and version (named by the event's `dataschema`). The events the hub writes itself
(schemas/hub_events.py) are checked by `hub_envelope.v1.json` and their `data` by the schema
their `dataschema` names (`resident_change`, `finding`, `dead_letter`, in schemas/events/). A new
version must accept every event of the versions before it (tests/unit/test_schema_versions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema_rs

from deploy.settings import HubSettings

SCHEMA_DIR = Path(__file__).parent / "events"
_FILE_NAME = re.compile(r"^(?P<name>.+)\.v(?P<version>[0-9]+)\.json$")


def schema_urn(name: str, version: int) -> str:
    return f"urn:sanwang:schema:{name}:v{version}"


def schema_dirs() -> list[Path]:
    """The hub's own event schemas, and the departments'."""
    return [SCHEMA_DIR, HubSettings().departments_dir / "events"]


@cache
def _schemas() -> dict[tuple[str, int], dict[str, Any]]:
    found = {}
    for path in (p for folder in schema_dirs() for p in sorted(folder.glob("*.json"))):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"schema file {path.name} is not named NAME.vN.json")
        schema = json.loads(path.read_text(encoding="utf-8"))
        key = (match["name"], int(match["version"]))
        if schema.get("$id") != schema_urn(*key):
            raise ValueError(f"{path.name}: $id must be {schema_urn(*key)}")
        found[key] = schema
    return found


def _resolve_urn(uri: str) -> dict[str, Any]:
    match = re.fullmatch(r"urn:sanwang:schema:(?P<name>.+):v(?P<version>[0-9]+)", uri)
    if match is None or (match["name"], int(match["version"])) not in _schemas():
        raise ValueError(f"unknown schema reference {uri!r}")
    return _schemas()[(match["name"], int(match["version"]))]


@cache
def _validator(name: str, version: int) -> Callable[[Any], Any]:
    """A compiled validator (fastjsonschema: ~25 times faster than interpreting the schema)."""
    return fastjsonschema.compile(_schemas()[(name, version)], handlers={"urn": _resolve_urn})


@cache
def _fast_validator(name: str, version: int) -> jsonschema_rs.Validator:
    """The same schema compiled by jsonschema-rs (Rust, ~8 times faster than fastjsonschema
    here). It only lets valid values through: whatever it does not pass, fastjsonschema
    decides and explains, so every refusal and its message stay fastjsonschema's. Where the two
    read a schema differently, jsonschema-rs is the stricter (RFC 3339 date-times: offsets
    with a colon, ASCII digits); tests/unit/test_validation_precheck.py holds them together."""
    return jsonschema_rs.validator_for(_schemas()[(name, version)], retriever=_resolve_urn,
                                       validate_formats=True)


def _passes_fast(name: str, version: int, value: Any) -> bool:
    try:
        return _fast_validator(name, version).is_valid(value)
    except (ValueError, TypeError, OverflowError):  # not JSON as it reads it: the slow way
        return False


def _errors(name: str, version: int, value: Any, root: str) -> list[str]:
    """The first violation, its path spelled from `root` (fastjsonschema calls the root data)."""
    try:
        _validator(name, version)(value)
    except fastjsonschema.JsonSchemaValueException as error:
        field = root + error.name.removeprefix("data")
        return [f"{field}: {error.message.removeprefix(error.name).strip()}"]
    return []


def versions(name: str) -> list[int]:
    return sorted(v for n, v in _schemas() if n == name)


@cache
def latest_dataschema(event_type: str) -> str:
    """The `dataschema` a publisher writes today: the newest version of the type."""
    known = versions(event_type)
    if not known:
        raise ValueError(f"no schema for event type {event_type!r}: add "
                         f"schemas/events/{event_type}.v1.json")
    return schema_urn(event_type, known[-1])


def validation_errors(event: dict[str, Any], version: int | None = None) -> list[str]:
    """Why `event` breaks its contract (empty when valid): the first bad field and what is wrong.

    `version` checks the parsed values against that version of the type instead of the one
    the event names (how the compatibility test replays old events against new versions).
    """
    if _passes_fast("envelope", 1, event):
        name, wanted = _named(event["dataschema"], version)
        if (name == event["type"] and (name, wanted) in _schemas()
                and _passes_fast(name, wanted, event["data"]["parsed"])):
            return []
    errors = _errors("envelope", 1, event, "event")
    if errors:
        return errors
    name, wanted = _named(event["dataschema"], version)
    if name != event["type"] or (name, wanted) not in _schemas():
        return [f"dataschema: no schema {event['dataschema']!r} for type {event['type']!r}"]
    return _errors(name, wanted, event["data"]["parsed"], "data.parsed")


def hub_event_errors(event: Any, version: int | None = None) -> list[str]:
    """Why an event the hub wrote (change, finding, dead letter) breaks its contract; `version`
    checks its data against that version of its dataschema instead."""
    errors = _errors("hub_envelope", 1, event, "event")
    if errors:
        return errors
    name, wanted = _named(event["dataschema"], version)
    if (name, wanted) not in _schemas():
        return [f"dataschema: no schema {event['dataschema']!r}"]
    return _errors(name, wanted, event["data"], "data")


@lru_cache(maxsize=256)  # a few per process; events from outside may name others
def _named(dataschema: str, version: int | None) -> tuple[str, int]:
    """(name, version) a dataschema URN names, the version replaced by `version` if given."""
    match = re.fullmatch(r"urn:sanwang:schema:(?P<name>.+):v(?P<version>[0-9]+)", dataschema)
    if match is None:
        return "", 0
    return match["name"], version or int(match["version"])
