"""What an analyst can work out from shown counts by differencing: every parent's count is the
sum of its children's, so the withheld counts are the unknowns of a linear system, and one is
given away exactly when the system determines it (exact rational elimination; a test helper,
independent of how the store decides what to withhold)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction


def worked_out(values: Mapping[str, int | None], children: Mapping[str, Sequence[str]]
               ) -> dict[str, int]:
    """The withheld counts (None in `values`) the equations parent = sum(children) determine.
    A unit absent from `values` reads as a shown 0 (an analyst sees no row for it)."""
    unknown = sorted(unit for unit, value in values.items() if value is None)
    column = {unit: i for i, unit in enumerate(unknown)}
    rows: list[list[Fraction]] = []
    for parent, kids in children.items():
        row = [Fraction(0)] * (len(unknown) + 1)  # coefficients, then the constant
        for unit, sign in ((parent, 1), *((kid, -1) for kid in kids)):
            if unit in column:
                row[column[unit]] += sign
            else:
                row[-1] -= sign * (values.get(unit) or 0)
        if any(row[:-1]):
            rows.append(row)
    pivots = _reduce(rows, len(unknown))
    found = {}
    for r, c in pivots:
        if not any(rows[r][j] for j in range(len(unknown)) if j != c):
            found[unknown[c]] = int(rows[r][-1])
    return found


def _reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduced row echelon form in place; (row, column) of each pivot."""
    pivots: list[tuple[int, int]] = []
    r = 0
    for c in range(width):
        at = next((i for i in range(r, len(rows)) if rows[i][c]), None)
        if at is None:
            continue
        rows[r], rows[at] = rows[at], rows[r]
        lead = rows[r][c]
        rows[r] = [x / lead for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c]:
                factor = rows[i][c]
                rows[i] = [x - factor * y for x, y in zip(rows[i], rows[r], strict=True)]
        pivots.append((r, c))
        r += 1
    return pivots
