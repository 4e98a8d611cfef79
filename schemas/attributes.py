"""The attribute catalogue (schemas/attributes.toml): every golden-record attribute, named once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).parent / "attributes.toml"
HUB_FIELDS = ("grid_code",)  # what the hub derives itself, readable beside the attributes


@dataclass(frozen=True)
class Attribute:
    name: str
    description: str
    compared: bool = False  # another department's contradicting value opens a conflict
    sensitive: str | None = None  # why it is sensitive personal information (PIPL art. 28)


def _load() -> dict[str, Attribute]:
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {name: Attribute(name, **entry) for name, entry in data.items()}


ATTRIBUTES = _load()
COMPARED = tuple(a.name for a in ATTRIBUTES.values() if a.compared)
SENSITIVE = tuple(a.name for a in ATTRIBUTES.values() if a.sensitive)
