"""A department is its declaration: no other module names one, and the declarations are sound."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.declarations import DeclarationError, load_department, load_departments
from schemas.departments import all_departments
from schemas.registry import validation_errors

REPO = Path(__file__).resolve().parents[2]
CODE = ("api", "cli", "connectors", "deploy", "schemas", "streams")
SUFFIXES = (".py", ".sql", ".js", ".html", ".toml", ".yml", ".yaml", ".json", ".css")
# Where departments are named on purpose: their declarations (departments/); the synthetic city
# that writes each department's formats, and the demo that plays their systems; the deployment
# manifests, which list the connector processes this city runs (one per department's live
# path); and the alert rules' test series.
ALLOWED = ("connectors/synthetic_", "cli/demo", "deploy/compose/", "deploy/k8s/",
           "deploy/prometheus/alerts.test.yml")


# Ids that are also everyday English ("health check", "third party"): named only as code does,
# quoted or as a record's prefix (`"health"`, `health:O1`), not in prose.
ENGLISH_WORDS = ("health", "party")
# Ids that are also the hub's own words ("grid": the four-level grid and its grid workers, in
# levels, routes and prose): named only as a record's prefix (`grid:G1`), a source's path
# (`/departments/grid`) or a raw topic (`raw.grid`).
HUB_WORDS = ("grid",)


def department_words() -> re.Pattern[str]:
    """What names a department: its id, command-line name, Chinese name, live table."""
    words: set[str] = set()
    quoted: set[str] = set()
    hub: set[str] = set()
    for d in all_departments().values():
        (quoted if d.id in ENGLISH_WORDS else hub if d.id in HUB_WORDS else words).add(d.id)
        words |= {d.cli_name, d.name} - {d.id}
        words |= {w for w in (d.live.table, d.live.updated) if w}
    bare = [rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in sorted(words)]
    code = [rf"[\"'/]{re.escape(w)}[\"'/:]|(?<![\w-]){re.escape(w)}:\w" for w in sorted(quoted)]
    ours = [rf"(?<![\w-]){re.escape(w)}:\w|(departments/|raw\.){re.escape(w)}(?![\w-])"
            for w in sorted(hub)]
    return re.compile("|".join(bare + code + ours))


def test_no_module_outside_the_declarations_names_a_department() -> None:
    pattern = department_words()
    found = []
    for package in CODE:
        for path in sorted((REPO / package).rglob("*")):
            relative = path.relative_to(REPO).as_posix()
            if path.suffix not in SUFFIXES or relative.startswith(ALLOWED):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{relative}:{number}: {line.strip()[:100]}")
    assert not found, f"{len(found)} lines name a department:\n" + "\n".join(found[:40])


def test_the_check_finds_a_department_named_in_code() -> None:
    pattern = department_words()
    assert pattern.search('if source == "police":')
    assert pattern.search("人社 pushes")
    assert pattern.search("ref = 'health:O1'") and pattern.search('choices=["party"]')
    assert not pattern.search("policeman_count = 1")  # part of another word
    assert not pattern.search("each component's health")
    assert pattern.search("ref = 'grid:G1'") and pattern.search('"/departments/grid"')
    assert not pattern.search('LEVELS = ["district", "grid"]')
    assert not pattern.search('@app.get("/grid/residents")')


def test_every_declaration_has_its_event_schema_and_its_fields_in_it() -> None:
    from schemas.registry import _schemas

    for d in all_departments().values():
        schema = _schemas()[(d.event_type, 1)]
        assert {f.field for f in d.fields} == set(schema["properties"]), d.id


def test_every_declared_example_event_is_valid() -> None:
    import json

    for d in all_departments().values():
        examples = d.path.parent / "examples" / f"{d.event_type}.v1.jsonl"
        for line in examples.read_text(encoding="utf-8").splitlines():
            assert validation_errors(json.loads(line)) == [], d.id


def _declaration(tmp_path: Path, text: str, name: str = "sixth") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = '''
id = "sixth"
name = "第六"
title = "A sixth department"
network = "services"
event_type = "hub.sixth.record"
#TOP
fields = [
  { field = "record_id", column = "编号", parse = "text", required = true },
  { field = "occurred", column = "日期", parse = "date" },
]
[backfill]
formats = [{ kind = "csv", suffix = ".csv" }]
[live]
kind = "http_push"
'''


@pytest.mark.parametrize(("change", "message"), [
    (("network = \"services\"", "network = \"army\""), "network: 'army' is not one of"),
    (("parse = \"date\"", "parse = \"datum\""), "fields[1].parse: 'datum' is not one of"),
    (("#TOP", "owns = [\"pension2\"]"), "owns: 'pension2' is not one of"),
    (("kind = \"http_push\"", "kind = \"http_push\"\ntable = \"t\""),
     "live: logical replication names its table"),
    (("#TOP", "colour = 1"), "(top level): unknown keys ['colour']"),
    (("id = \"sixth\"", "id = \"seventh\""), "must match the file's name"),
])
def test_a_broken_declaration_is_refused_naming_its_file_and_key(
        tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    with pytest.raises(DeclarationError, match=re.escape(message)) as refused:
        load_department(_declaration(tmp_path, text))
    assert "sixth.toml" in str(refused.value)


def test_an_attribute_has_one_owner_and_sensitive_ones_are_read_by_whom_the_owner_names(
        tmp_path: Path) -> None:
    for d in all_departments().values():
        _declaration(tmp_path, d.path.read_text(encoding="utf-8"), d.id)
    load_departments(tmp_path)  # the real ones, copied, load
    _declaration(tmp_path, MINIMAL.replace("#TOP", 'owns = ["pension"]'))
    with pytest.raises(DeclarationError, match="'pension' is owned by 'sixth' already"):
        load_departments(tmp_path)
    _declaration(tmp_path, MINIMAL.replace("#TOP", 'reads = ["party_membership"]'))
    with pytest.raises(DeclarationError, match="reads: 'party_membership' is sensitive"):
        load_departments(tmp_path)
