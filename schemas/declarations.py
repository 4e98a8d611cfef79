"""A department as data: its declaration (departments/<id>.toml) read into typed, checked models.

Everything the hub knows of a department lives in its declaration: how its exports and live
feed are read, how each column becomes a canonical field, which facts a record states (in the
small vocabulary of `FactRule`), which attributes it owns, what it may read back. Connectors,
the push endpoint, the CLI, topics, Kafka principals and ACLs, survivorship and the API all read
these models; no other module names a department. A declaration that breaks the rules below is
refused with an error naming its file and key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import ConfigurationError
from schemas.attributes import CATALOGUE, HUB_FIELDS, Attribute, attributes_from

FILE_KINDS = ("csv", "jsonl", "xlsx")
# query_api: its records come through the query API from its principals (none of its own)
LIVE_KINDS = ("logical_replication", "drop_folder", "http_push", "query_api")
# department: owns what it declares, its values outrank observers'; observer: its values never
# outrank a department's (a golden value only where no department has one)
AUTHORITIES = ("department", "observer")
EXPECTATIONS = ("same", "differs")  # what a verified fact expects of the owner's value
NETWORKS = ("public_security", "services", "party_building")
RELATION_KINDS = ("mother", "father", "spouse")  # of the person the record describes
SPOUSE = "spouse"  # the kind whose other side names the record's person (streams/spouses.py)
_ID = re.compile(r"[a-z][a-z0-9_]{0,30}")


class DeclarationError(ConfigurationError):
    """A declaration the hub cannot run: the message names the file and the key."""


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: read from the record's `column` (or derived `from` another field)
    by the named parser (connectors/value_parsers.py)."""

    field: str
    parse: str
    column: str | None = None  # the export's header / the JSON key
    db_column: str | None = None  # the live table's column
    derived_from: str | None = None
    required: bool = False
    max_length: int | None = None
    choices: Mapping[str, str] | None = None  # spelling -> canonical value
    what: str = "value"  # how a choice's error names the value
    key_suffix: str | None = None  # *_by_key parsers: which keys of an object they read


@dataclass(frozen=True)
class FileFormat:
    kind: str  # csv | jsonl | xlsx
    suffix: str
    encoding: str = "utf-8"


@dataclass(frozen=True)
class LiveSource:
    kind: str  # logical_replication | drop_folder | http_push
    table: str | None = None
    updated: str | None = None  # the table's update-time column: orders a record's versions
    ddl: str | None = None


@dataclass(frozen=True)
class Condition:
    """The record's `field` holds one of `values`."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Verification:
    """A fact the attribute's owner should verify: its current value should be the `same` as
    the fact's, or should `differ` from it (the fact then states no value: the record says the
    attribute no longer has it). One that does not opens a `task` of that kind for the owner."""

    expect: str
    task: str


@dataclass(frozen=True)
class FactRule:
    """A fact a record states: `attribute` = a constant `value`, the field at path `source`, or
    an object of paths (`{"value": c}` for a constant), `default` when that is empty; true from
    the first non-empty `when` path; only if every `if_` holds and no `unless` does; `verify`:
    the owner should verify it."""

    attribute: str
    value: Any = None
    source: str | None = None
    object: Mapping[str, Any] | None = None
    default: Any = None
    when: tuple[str, ...] = ("occurred",)
    if_: tuple[Condition, ...] = ()
    unless: tuple[Condition, ...] = ()
    verify: Verification | None = None


@dataclass(frozen=True)
class RelationRule:
    """A relative the record names: `kind` (mother, father, spouse) and their ID number's path."""

    kind: str
    id_number: str
    name: str | None = None
    if_: tuple[Condition, ...] = ()
    unless: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    title: str
    network: str
    event_type: str
    fields: tuple[FieldSpec, ...]
    formats: tuple[FileFormat, ...]
    live: LiveSource
    addresses: tuple[str, ...] = ()
    owns: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()
    time_field: str | None = None
    facts: tuple[FactRule, ...] = ()
    relations: tuple[RelationRule, ...] = ()
    attributes: tuple[Attribute, ...] = ()  # attributes it brings, beyond the catalogue
    authority: str = "department"  # or observer (AUTHORITIES)
    path: Path | None = None

    @property
    def observer(self) -> bool:
        return self.authority == "observer"

    @property
    def cli_name(self) -> str:
        """How commands and URLs spell it: the id with hyphens for underscores."""
        return self.id.replace("_", "-")

    @property
    def header(self) -> list[str]:
        """The export's columns, in order."""
        return [f.column for f in self.fields if f.column is not None]

    def spec(self, field: str) -> FieldSpec:
        return next(f for f in self.fields if f.field == field)

    def format_for(self, suffix: str) -> FileFormat | None:
        return next((f for f in self.formats if f.suffix == suffix.lower()), None)


def load_department(path: Path) -> Department:
    """Read and check one declaration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DeclarationError(f"{path}: not a readable TOML file ({error})") from None
    return _Reader(path, data).department()


def load_departments(folder: Path) -> dict[str, Department]:
    """Every `*.toml` in `folder`, by id, checked one by one and against each other."""
    found: dict[str, Department] = {}
    for path in sorted(folder.glob("*.toml")):
        department = load_department(path)
        if department.id in found:
            raise DeclarationError(f"{path}: id {department.id!r} is declared twice")
        found[department.id] = department
    if not found:
        raise DeclarationError(f"{folder}: no department declarations (*.toml)")
    _check_together(found)
    return found


def known_attributes(departments: Mapping[str, Department]) -> dict[str, Attribute]:
    """The catalogue's attributes and those the departments bring."""
    known = dict(CATALOGUE)
    for d in departments.values():
        for attribute in d.attributes:
            if attribute.name in known:
                raise DeclarationError(f"{d.path}: attributes: {attribute.name!r} is declared "
                                       "already (schemas/attributes.toml or another department)")
            known[attribute.name] = attribute
    return known


def _check_together(departments: dict[str, Department]) -> None:
    """One owner per attribute; sensitive attributes read only by their owner and whom it names."""
    known = known_attributes(departments)
    owner: dict[str, str] = {}
    for d in departments.values():
        for attribute in d.owns:
            if attribute in owner:
                raise DeclarationError(f"{d.path}: owns: {attribute!r} is owned by "
                                       f"{owner[attribute]!r} already")
            owner[attribute] = d.id
    for d in departments.values():
        for i, rule in enumerate(d.facts):
            if rule.verify is not None and rule.attribute not in owner:
                raise DeclarationError(f"{d.path}: facts[{i}].verify: {rule.attribute!r} has "
                                       "no owner to verify it")
        for other in d.shares:
            if other not in departments:
                raise DeclarationError(f"{d.path}: shares: no department {other!r}")
        for attribute in d.reads:
            if attribute not in known and attribute not in HUB_FIELDS:
                raise DeclarationError(f"{d.path}: reads: no attribute {attribute!r}")
            if attribute in HUB_FIELDS or not known[attribute].sensitive:
                continue
            holder = departments.get(owner.get(attribute, ""))
            if holder is None or (holder.id != d.id and d.id not in holder.shares):
                raise DeclarationError(
                    f"{d.path}: reads: {attribute!r} is sensitive "
                    f"({known[attribute].sensitive}); only its owner "
                    f"{owner.get(attribute, '(none)')!r} and those it shares it with may read it")


class _Reader:
    """Turns one file's TOML into models; every error names the file and the key."""

    TOP = {"id", "name", "title", "network", "event_type", "addresses", "owns", "reads", "shares",
           "time", "fields", "backfill", "live", "facts", "relations", "attributes",
           "authority"}

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data
        self.attributes: dict[str, Attribute] = dict(CATALOGUE)

    def fail(self, key: str, problem: str) -> DeclarationError:
        return DeclarationError(f"{self.path}: {key}: {problem}")

    def known_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(where, f"unknown keys {unknown}; allowed: {sorted(allowed)}")

    def text(self, table: Mapping[str, Any], key: str, where: str, default: Any = ...) -> Any:
        value = table.get(key, default)
        if value is ...:
            raise self.fail(f"{where}{key}", "missing")
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}{key}", f"expected text, got {value!r}")
        return value

    def names(self, key: str, allowed: Any = None) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of names")
        for v in value:
            if allowed is not None and v not in allowed:
                raise self.fail(key, f"{v!r} is not one of {sorted(allowed)}")
        return tuple(value)

    def department(self) -> Department:
        self.known_keys(self.data, self.TOP, "(top level)")
        ident = self.text(self.data, "id", "")
        if not _ID.fullmatch(ident):
            raise self.fail("id", f"{ident!r}: lower-case letters, digits and _ only")
        if self.path.stem != ident:
            raise self.fail("id", f"{ident!r} must match the file's name {self.path.name!r}")
        network = self.text(self.data, "network", "")
        if network not in NETWORKS:
            raise self.fail("network", f"{network!r} is not one of {list(NETWORKS)}")
        fields = self.fields()
        names = {f.field for f in fields}
        try:
            own = attributes_from(self.data.get("attributes", {}), str(self.path))
        except ValueError as error:
            raise DeclarationError(str(error)) from None
        self.attributes = {**CATALOGUE, **own}
        for required in ("record_id", "occurred"):
            if required not in names:
                raise self.fail("fields", f"no {required!r} field")
        authority = self.text(self.data, "authority", "", "department")
        if authority not in AUTHORITIES:
            raise self.fail("authority", f"{authority!r} is not one of {list(AUTHORITIES)}")
        time_field = self.text(self.data, "time", "", None)
        if time_field is not None and time_field not in names:
            raise self.fail("time", f"no field {time_field!r}")
        live = self.live()
        department = Department(
            id=ident, name=self.text(self.data, "name", ""),
            title=self.text(self.data, "title", ""), network=network,
            event_type=self.text(self.data, "event_type", ""), fields=fields,
            formats=self.formats(live), live=live,
            addresses=self.names("addresses", names), owns=self.names("owns", self.attributes),
            reads=self.names("reads"),
            shares=self.names("shares"), time_field=time_field,
            facts=tuple(self.fact(i, t, names) for i, t in enumerate(self.tables("facts"))),
            relations=tuple(self.relation(i, t, names)
                            for i, t in enumerate(self.tables("relations"))),
            attributes=tuple(own.values()), authority=authority, path=self.path)
        if not department.event_type.startswith(f"hub.{ident}."):
            raise self.fail("event_type", f"must start with 'hub.{ident}.'")
        return department

    def tables(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "expected a list of tables")
        return value

    def fields(self) -> tuple[FieldSpec, ...]:
        from connectors.value_parsers import DERIVING, PARSERS

        specs: list[FieldSpec] = []
        for i, table in enumerate(self.tables("fields")):
            where = f"fields[{i}]."
            self.known_keys(table, {"field", "column", "db_column", "from", "parse", "required",
                                    "max_length", "choices", "what", "key_suffix"}, where)
            name, parse = self.text(table, "field", where), self.text(table, "parse", where)
            derived = self.text(table, "from", where, None)
            if parse not in PARSERS:
                raise self.fail(f"{where}parse", f"{parse!r} is not one of {sorted(PARSERS)}")
            if (derived is not None) != (parse in DERIVING):
                raise self.fail(where + "from", f"parser {parse!r} reads "
                                + ("another field" if parse in DERIVING else "a column"))
            if derived is not None and derived not in {s.field for s in specs}:
                raise self.fail(f"{where}from", f"no earlier field {derived!r}")
            column = self.text(table, "column", where, None)
            if (column is None) == (derived is None):
                raise self.fail(where, "give a column, or `from` for a derived field")
            if name in {s.field for s in specs}:
                raise self.fail(f"{where}field", f"{name!r} declared twice")
            choices = table.get("choices")
            if (parse == "choice") != (choices is not None):
                raise self.fail(f"{where}choices", "a choice parser needs choices; no other may")
            if isinstance(choices, list):
                choices = {c: c for c in choices}
            specs.append(FieldSpec(
                field=name, parse=parse, column=column,
                db_column=self.text(table, "db_column", where, None), derived_from=derived,
                required=bool(table.get("required", False)),
                max_length=table.get("max_length"), choices=choices,
                what=self.text(table, "what", where, "value"),
                key_suffix=self.text(table, "key_suffix", where, None)))
        return tuple(specs)

    def formats(self, live: LiveSource) -> tuple[FileFormat, ...]:
        backfill = self.data.get("backfill", {})
        self.known_keys(backfill, {"formats"}, "backfill")
        found = []
        for i, table in enumerate(backfill.get("formats", [])):
            where = f"backfill.formats[{i}]."
            self.known_keys(table, {"kind", "suffix", "encoding"}, where)
            kind = self.text(table, "kind", where)
            if kind not in FILE_KINDS:
                raise self.fail(f"{where}kind", f"{kind!r} is not one of {list(FILE_KINDS)}")
            found.append(FileFormat(kind, self.text(table, "suffix", where).lower(),
                                    self.text(table, "encoding", where, "utf-8")))
        if not found and live.kind != "query_api":
            raise self.fail("backfill.formats", "at least one file format (only a source "
                            "whose records come through the query API has none)")
        return tuple(found)

    def live(self) -> LiveSource:
        table = self.data.get("live", {})
        self.known_keys(table, {"kind", "table", "updated", "ddl"}, "live")
        kind = self.text(table, "kind", "live.")
        if kind not in LIVE_KINDS:
            raise self.fail("live.kind", f"{kind!r} is not one of {list(LIVE_KINDS)}")
        live = LiveSource(kind, self.text(table, "table", "live.", None),
                          self.text(table, "updated", "live.", None),
                          self.text(table, "ddl", "live.", None))
        replicated = kind == "logical_replication"
        if (replicated and not (live.table and live.updated)) or (
                not replicated and (live.table or live.updated or live.ddl)):
            raise self.fail("live", "logical replication names its table and `updated` column;"
                            " no other live kind does")
        return live

    def conditions(self, table: Mapping[str, Any], key: str, where: str, names: set[str]
                   ) -> tuple[Condition, ...]:
        found = []
        for field, wanted in table.get(key, {}).items():
            if field not in names:
                raise self.fail(f"{where}{key}", f"no field {field!r}")
            found.append(Condition(field, tuple(wanted) if isinstance(wanted, list)
                                   else (wanted,)))
        return tuple(found)

    def path_of(self, path: str, where: str, names: set[str]) -> str:
        if path.split(".", 1)[0] not in names:
            raise self.fail(where, f"{path!r} names no field")
        return path

    def fact(self, i: int, table: dict[str, Any], names: set[str]) -> FactRule:
        where = f"facts[{i}]."
        self.known_keys(table, {"attribute", "value", "from", "object", "default", "when", "if",
                                "unless", "verify"}, where)
        attribute = self.text(table, "attribute", where)
        if attribute not in self.attributes:
            raise self.fail(f"{where}attribute", f"{attribute!r} is neither in "
                            "schemas/attributes.toml nor among this file's [attributes]")
        given = [k for k in ("value", "from", "object") if k in table]
        if len(given) != 1:
            raise self.fail(where, "give exactly one of value, from, object")
        source = self.text(table, "from", where, None)
        if source is not None:
            self.path_of(source, f"{where}from", names)
        obj = table.get("object")
        if obj is not None:
            for key, part in obj.items():
                if isinstance(part, str):
                    self.path_of(part, f"{where}object.{key}", names)
                elif not (isinstance(part, dict) and set(part) == {"value"}):
                    raise self.fail(f"{where}object.{key}", "a field's path, or {value = ...}")
        when = table.get("when", "occurred")
        when = (when,) if isinstance(when, str) else tuple(when)
        for path in when:
            self.path_of(path, f"{where}when", names)
        return FactRule(attribute, table.get("value"), source, obj, table.get("default"), when,
                        self.conditions(table, "if", where, names),
                        self.conditions(table, "unless", where, names),
                        self.verification(table.get("verify"), f"{where}verify"))

    def verification(self, table: Any, where: str) -> Verification | None:
        if table is None:
            return None
        if not isinstance(table, dict):
            raise self.fail(where, "expected a table { expect = ..., task = ... }")
        self.known_keys(table, {"expect", "task"}, where)
        expect = self.text(table, "expect", f"{where}.")
        task = self.text(table, "task", f"{where}.")
        if expect not in EXPECTATIONS:
            raise self.fail(f"{where}.expect", f"{expect!r} is not one of {list(EXPECTATIONS)}")
        if not _ID.fullmatch(task):
            raise self.fail(f"{where}.task", f"{task!r}: lower-case letters, digits and _ only")
        return Verification(expect, task)

    def relation(self, i: int, table: dict[str, Any], names: set[str]) -> RelationRule:
        where = f"relations[{i}]."
        self.known_keys(table, {"kind", "id_number", "name", "if", "unless"}, where)
        kind = self.text(table, "kind", where)
        if kind not in RELATION_KINDS:
            raise self.fail(f"{where}kind", f"{kind!r} is not one of {list(RELATION_KINDS)}")
        name = self.text(table, "name", where, None)
        return RelationRule(kind, self.path_of(self.text(table, "id_number", where),
                                               f"{where}id_number", names),
                            name and self.path_of(name, f"{where}name", names),
                            self.conditions(table, "if", where, names),
                            self.conditions(table, "unless", where, names))

