"""The attribute catalogue (schemas/attributes.toml): the golden-record attributes every
department may state, named once. A department that brings an attribute no other states
declares it in its own declaration (`[attributes.NAME]`); schemas.departments.all_attributes
joins the two."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).parent / "attributes.toml"
HUB_FIELDS = ("grid_code", "relations")  # what the hub derives itself, readable beside them


@dataclass(frozen=True)
class Attribute:
    name: str
    description: str
    compared: bool = False  # another department's contradicting value opens a conflict
    sensitive: str | None = None  # why it is sensitive personal information (PIPL art. 28)
    place: bool = False  # an address: two values agree when they name the same place


def attributes_from(table: Mapping[str, Any], where: str) -> dict[str, Attribute]:
    """Attributes as TOML tables `[NAME] description = ... compared = ... sensitive = ...
    place = ...`; ValueError naming `where` and the attribute for anything else."""
    found = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or not set(entry) <= {"description", "compared",
                                                              "sensitive", "place"}:
            raise ValueError(f"{where}: attribute {name!r}: give description, and optionally "
                             "compared, sensitive and place")
        if not isinstance(entry.get("description"), str):
            raise ValueError(f"{where}: attribute {name!r}: description missing")
        found[name] = Attribute(name, **entry)
    return found


CATALOGUE = attributes_from(tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8")),
                            str(CATALOGUE_FILE))
