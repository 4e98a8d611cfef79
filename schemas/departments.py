"""The departments the hub runs: the declarations in the configured folder, loaded once."""

from __future__ import annotations

from functools import cache

from deploy.settings import HubSettings
from schemas.attributes import Attribute
from schemas.declarations import (
    DeclarationError,
    Department,
    known_attributes,
    load_departments,
)


@cache
def all_departments() -> dict[str, Department]:
    """Every declared department, by id, in the order of their files' names
    ($SANWANG_DEPARTMENTS_DIR, read once per process)."""
    return load_departments(HubSettings().departments_dir.resolve())


def department(name: str) -> Department:
    """A department by its id or its command-line name (hyphens for underscores)."""
    found = all_departments().get(name.replace("-", "_"))
    if found is None:
        raise DeclarationError(f"no department {name!r}; declared: "
                               f"{', '.join(all_departments())}")
    return found


@cache
def all_attributes() -> dict[str, Attribute]:
    """Every attribute a golden record may hold: the catalogue's and the departments' own."""
    return known_attributes(all_departments())


def sensitive_attributes() -> set[str]:
    return {name for name, a in all_attributes().items() if a.sensitive}
