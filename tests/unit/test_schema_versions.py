"""Schema evolution: a new version of an event type must accept every event of the older ones.

`examples/<type>.v<N>.jsonl` beside each folder of schemas (schemas/, departments/) keeps events
as version N's publishers wrote them (synthetic sample data); the same holds for the data of the
events the hub writes itself (changes, findings, dead letters). Adding `<type>.v<N+1>.json` that
rejects any of them (a new required field, a narrowed enum) fails here: that is a breaking
change, which needs a new event type instead.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import registry
from schemas.registry import SCHEMA_DIR, hub_event_errors, schema_dirs, validation_errors, versions

HUB_DATA = ("resident_change", "finding", "dead_letter")  # schemas/hub_events.py
FOLDER_OF = {**{p.name.split(".v")[0]: folder for folder in schema_dirs()
                for p in folder.glob("hub.*.json")}, **dict.fromkeys(HUB_DATA, SCHEMA_DIR)}
EVENT_TYPES = sorted(FOLDER_OF)


def _examples(event_type: str, version: int) -> list[dict]:
    path = FOLDER_OF[event_type].parent / "examples" / f"{event_type}.v{version}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_event_type_has_examples_of_every_version() -> None:
    assert set(HUB_DATA) < set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        for version in versions(event_type):
            assert _examples(event_type, version), f"{event_type} v{version} has no examples"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_newer_versions_accept_older_events(event_type: str) -> None:
    check = hub_event_errors if event_type in HUB_DATA else validation_errors
    known = versions(event_type)
    assert known
    for old in known:
        for event in _examples(event_type, old):
            for new in (v for v in known if v >= old):
                assert check(event, version=new) == [], (event_type, old, new)


@pytest.fixture
def schema_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the real schemas the test may add a version to."""
    for path in (p for folder in schema_dirs() for p in folder.glob("*.json")):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(registry, "schema_dirs", lambda: [tmp_path])
    caches = (registry._schemas, registry._validator, registry._fast_validator,
              registry.latest_dataschema)
    for cached in caches:
        cached.cache_clear()
    yield tmp_path
    for cached in caches:
        cached.cache_clear()


@pytest.mark.parametrize(("change", "compatible"), [
    (lambda s: s["properties"].update(note={"type": ["string", "null"]}), True),
    (lambda s: s["required"].append("note"), False),
    (lambda s: s["properties"].update(sex={"enum": ["M", None]}), False),
])
def test_the_check_tells_compatible_from_breaking(schema_dir: Path, change, compatible) -> None:
    name = "hub.police.population_change"
    schema = json.loads((schema_dir / f"{name}.v1.json").read_text(encoding="utf-8"))
    schema["$id"] = schema["$id"].replace(":v1", ":v2")
    change(schema)
    (schema_dir / f"{name}.v2.json").write_text(json.dumps(schema), encoding="utf-8")
    assert versions(name) == [1, 2]
    accepted = all(validation_errors(e, version=2) == [] for e in _examples(name, 1))
    assert accepted is compatible
