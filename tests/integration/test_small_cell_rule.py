"""hub.withheld_cells, the small-cell rule every analyst count view applies, on generated
townships: no community or grid count of 1..k is shown, and none of the withheld counts can be
worked out from the shown ones by differencing (tests/differencing.py solves the system)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy import postgres
from deploy.settings import HubSettings
from tests.differencing import worked_out
from tests.integration.conftest import hub_settings

# townships of 2-4 communities of 1-3 grids; grid counts mostly small, as below a township
GRIDS = st.lists(st.integers(0, 12) | st.integers(0, 3), min_size=1, max_size=3)
TOWNSHIPS = st.lists(st.lists(GRIDS, min_size=2, max_size=4), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def cur(stack: HubSettings) -> Iterator[Any]:
    conn = psycopg2.connect(postgres.dsn(hub_settings(stack)))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def withheld(cur: Any, cells: list[tuple[str, str, str, str, int]], k: int) -> set[str]:
    cur.execute("SELECT level, unit_code FROM hub.withheld_cells("
                "%s::hub.count_cell[], %s)", ([tuple(c) for c in cells], k))
    return {code for _, code in cur.fetchall()}


def city(townships: list[list[list[int]]]) -> tuple[dict[str, int], dict[str, list[str]],
                                                        list[tuple[str, str, str, str, int]]]:
    """Every unit's count, each parent's children, and the community and grid cells."""
    counts: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    cells = []
    for t, communities in enumerate(townships):
        town = f"T{t}"
        children[town] = []
        for c, grids in enumerate(communities):
            community = f"{town}C{c}"
            children[town].append(community)
            children[community] = [f"{community}G{g}" for g in range(len(grids))]
            counts[community] = sum(grids)
            cells.append(("community", community, town, "m", sum(grids)))
            for grid, value in zip(children[community], grids, strict=True):
                counts[grid] = value
                cells.append(("grid", grid, community, "m", value))
        counts[town] = sum(counts[c] for c in children[town])
    return counts, children, cells


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(townships=TOWNSHIPS, k=st.integers(0, 4))
def test_no_small_count_is_shown_or_can_be_worked_out(cur: Any, townships: list, k: int) -> None:
    counts, children, cells = city(townships)
    hidden = withheld(cur, cells, k)
    shown = {unit: None if unit in hidden else value for unit, value in counts.items()}
    assert not [u for u, v in shown.items() if "C" in u and v is not None and 1 <= v <= k]
    assert worked_out(shown, children) == {}
    for parent, kids in children.items():  # at most one second cell per family
        assert len([u for u in kids if u in hidden and not 1 <= counts[u] <= k]) <= 1, parent


def test_the_same_counts_are_withheld_alike_whatever_their_order(cur: Any) -> None:
    _, _, cells = city([[[2, 9], [7], [0, 5]], [[1], [8, 0]]])
    first = withheld(cur, cells, 3)
    assert first == withheld(cur, cells[::-1], 3)
    # T0: one small grid (2) and its sibling; T1: a small community (1) and its sibling (8),
    # whose grids (8, 0) would add up to it but for the 8
    assert first == {"T0C0G0", "T0C0G1", "T1C0", "T1C0G0", "T1C1", "T1C1G0"}


def test_the_attack_finds_what_primary_suppression_leaves() -> None:
    """The helper itself: one withheld child of a shown parent is given away, and one a
    second withheld cell covers is not."""
    children = {"T": ["A", "B", "C"]}
    assert worked_out({"T": 12, "A": None, "B": 5, "C": 5}, children) == {"A": 2}
    assert worked_out({"T": 12, "A": None, "B": None, "C": 5}, children) == {}
    assert worked_out({"T": 12, "A": None, "B": None, "C": 5, "B1": 4, "B2": 1},
                      children | {"B": ["B1", "B2"]}) == {"B": 5, "A": 2}
