"""The four grid levels as units with codes, names and parents (pure).

A grid code (网格编码) is hierarchical: its first 6 digits are the district's code (区县代码), 9
the township's, 12 the community's, all 14 the grid's; the grid reference names each level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = ("district", "township", "community", "grid")  # 区县, 乡镇街道, 村社区, 网格
CODE_LENGTH = {"district": 6, "township": 9, "community": 12, "grid": 14}
BELOW_TOWNSHIP = frozenset({"community", "grid"})  # where small counts are withheld


@dataclass(frozen=True)
class Unit:
    """One unit of one grid level."""

    level: str
    code: str
    name: str
    parent: str | None  # the code of the unit one level up; None for a district


@dataclass(frozen=True)
class GridRow:
    """One row of the grid reference (hub.grids)."""

    grid_code: str
    district: str
    township: str
    community: str
    grid_name: str


def code_at(grid_code: str, level: str) -> str:
    """The code of the unit of `level` a grid belongs to."""
    return grid_code[:CODE_LENGTH[level]]


def units_of(rows: Iterable[GridRow]) -> dict[tuple[str, str], Unit]:
    """Every unit of every level, by (level, code)."""
    units: dict[tuple[str, str], Unit] = {}
    for row in rows:
        names = {"district": row.district, "township": f"{row.district}{row.township}",
                 "community": f"{row.township}{row.community}",
                 "grid": f"{row.community}{row.grid_name}"}
        parent = None
        for level in LEVELS:
            code = code_at(row.grid_code, level)
            units.setdefault((level, code), Unit(level, code, names[level], parent))
            parent = code
    return units


def ancestors(grid_code: str) -> list[tuple[str, str]]:
    """(level, code) of a grid and each unit above it."""
    return [(level, code_at(grid_code, level)) for level in LEVELS]
