"""Tests for streams.clustering: the partition, its guards (numbers, splits) and the Links.

Records here carry only what clustering reads: a ref and a trusted (or suspect) ID number.
Every ID number is synthetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.clustering import AMBIGUOUS_BITS, Link, Split, cluster
from streams.features import RecordFeatures
from streams.matching import RULE_STRENGTH, Edge

ID_1, ID_2, ID_3 = "511802195603121239", "511802195603121247", "511802195603121255"
LINKING = ("steward", "department_key", "id_number", "probabilistic")
OVERRIDING = ("steward", "department_key")  # rules that may join two different numbers


def rec(ref: str, id_number: str | None = None, suspect: bool = False,
        key: str | None = None) -> RecordFeatures:
    source = ref.split(":", 1)[0]
    return RecordFeatures(ref=ref, source=source, id_number=id_number, id_suspect=suspect,
                          person_key=f"{source}:{key}" if key else None)


def edge(a: str, b: str, rule: str = "probabilistic", score: float = 20.0) -> Edge:
    first, second = sorted((a, b))
    score = math.inf if rule == "department_key" else score
    return Edge(first, second, rule, score, ())


def partition(groups: Sequence[Sequence[Link]]) -> set[frozenset[str]]:
    return {frozenset(link.ref for link in group) for group in groups}


def group_of(groups: Sequence[Sequence[Link]], ref: str) -> set[str]:
    return next({link.ref for link in g} for g in groups if any(link.ref == ref for link in g))


def together(groups: Sequence[Sequence[Link]], *refs: str) -> bool:
    return set(refs) <= group_of(groups, refs[0])


def links_by_ref(groups: Iterable[Sequence[Link]]) -> dict[str, Link]:
    return {link.ref: link for group in groups for link in group}


# --- examples ------------------------------------------------------------------------------


def test_records_without_edges_are_singletons_without_an_edge() -> None:
    groups = cluster([rec("p:b"), rec("p:a"), rec("p:c")], [])
    assert groups == [[Link("p:a", None)], [Link("p:b", None)], [Link("p:c", None)]]


def test_no_records_no_groups() -> None:
    assert cluster([], [edge("p:a", "p:b")]) == []


def test_groups_and_their_members_come_sorted() -> None:
    records = [rec(r) for r in ("p:e", "p:d", "p:c", "p:b", "p:a")]
    groups = cluster(records, [edge("p:e", "p:b"), edge("p:d", "p:a")])
    assert [[link.ref for link in g] for g in groups] == [["p:a", "p:d"], ["p:b", "p:e"],
                                                          ["p:c"]]


def test_linking_edges_join_transitively() -> None:
    records = [rec("p:a", ID_1), rec("s:b", ID_1), rec("c:c"), rec("c:d")]
    edges = [edge("p:a", "s:b", "id_number"), edge("s:b", "c:c"), edge("c:c", "c:d", "steward")]
    assert partition(cluster(records, edges)) == {frozenset({"p:a", "s:b", "c:c", "c:d"})}


def test_review_and_id_conflict_edges_never_join() -> None:
    records = [rec("p:a", ID_1), rec("c:b", ID_1), rec("c:c")]
    edges = [edge("p:a", "c:b", "id_conflict"), edge("p:a", "c:c", "review", 10.0)]
    groups = cluster(records, edges)
    assert len(groups) == 3
    assert all(link.edge is None for g in groups for link in g)


def test_edges_and_splits_naming_unknown_records_are_ignored() -> None:
    records = [rec("p:a"), rec("p:b")]
    groups = cluster(records, [edge("p:a", "p:zz"), edge("p:zz", "p:b")],
                     [Split("p:a", "p:zz")])
    assert partition(groups) == {frozenset({"p:a"}), frozenset({"p:b"})}


def test_a_chain_of_probabilistic_edges_never_joins_two_trusted_numbers() -> None:
    records = [rec("p:a", ID_1), rec("c:m"), rec("s:b", ID_2)]
    groups = cluster(records, [edge("p:a", "c:m", score=30.0), edge("c:m", "s:b", score=20.0)])
    assert partition(groups) == {frozenset({"p:a", "c:m"}), frozenset({"s:b"})}
    assert links_by_ref(groups)["s:b"].edge is None


def test_the_stronger_edge_decides_which_number_the_middle_record_joins() -> None:
    records = [rec("p:a", ID_1), rec("c:m"), rec("s:b", ID_2)]
    groups = cluster(records, [edge("p:a", "c:m", score=20.0), edge("c:m", "s:b", score=30.0)])
    assert partition(groups) == {frozenset({"p:a"}), frozenset({"c:m", "s:b"})}


def test_an_id_number_edge_beats_a_stronger_scored_probabilistic_edge() -> None:
    records = [rec("p:a", ID_1), rec("c:m", ID_1), rec("s:b", ID_2), rec("c:x")]
    edges = [edge("c:x", "s:b", score=90.0), edge("c:m", "c:x", score=80.0),
             edge("p:a", "c:m", "id_number", score=5.0)]
    groups = cluster(records, edges)
    # the rule orders first: p:a + c:m (id_number), then c:x + s:b (90), and c:m - c:x is refused
    assert partition(groups) == {frozenset({"p:a", "c:m"}), frozenset({"c:x", "s:b"})}


def test_a_long_probabilistic_chain_keeps_every_number_apart() -> None:
    numbers = [ID_1, None, ID_2, None, ID_3, None, ID_1]
    records = [rec(f"c:{i}", n) for i, n in enumerate(numbers)]
    edges = [edge(f"c:{i}", f"c:{i + 1}", score=20.0 + i) for i in range(len(numbers) - 1)]
    groups = cluster(records, edges)
    for group in groups:
        assert len({numbers[int(link.ref[2:])] for link in group} - {None}) <= 1


def test_suspect_numbers_do_not_keep_records_apart() -> None:
    records = [rec("p:a", ID_1), rec("c:b", ID_2, suspect=True)]
    assert len(cluster(records, [edge("p:a", "c:b")])) == 1


def test_the_same_number_on_both_sides_joins() -> None:
    records = [rec("p:a", ID_1), rec("c:m"), rec("s:b", ID_1)]
    groups = cluster(records, [edge("p:a", "c:m", score=30.0), edge("c:m", "s:b", score=20.0)])
    assert len(groups) == 1


def test_a_department_key_edge_overrides_different_numbers() -> None:
    records = [rec("p:a", ID_1), rec("p:b", ID_2)]
    groups = cluster(records, [edge("p:a", "p:b", "department_key")])
    assert partition(groups) == {frozenset({"p:a", "p:b"})}
    assert all(link.edge.rule == "department_key" for link in groups[0])


def test_a_steward_edge_overrides_different_numbers() -> None:
    records = [rec("p:a", ID_1), rec("s:b", ID_2), rec("c:c", ID_3)]
    edges = [edge("p:a", "s:b", "steward", 0.0), edge("s:b", "c:c", "probabilistic", 99.0)]
    groups = cluster(records, edges)
    # the steward joins ID_1 and ID_2; the probabilistic edge may not add ID_3
    assert partition(groups) == {frozenset({"p:a", "s:b"}), frozenset({"c:c"})}


@pytest.mark.parametrize("rule", OVERRIDING)
def test_a_record_with_a_number_already_in_a_two_number_group_joins_it(rule: str) -> None:
    records = [rec("p:a", ID_1), rec("p:b", ID_2), rec("s:c", ID_1)]
    edges = [edge("p:a", "p:b", rule, 0.0), edge("p:a", "s:c", "id_number", 30.0)]
    groups = cluster(records, edges)
    assert together(groups, "p:a", "s:c")  # s:c's number is p:a's: it adds no new number


def test_a_split_keeps_two_records_apart_against_any_edge() -> None:
    records = [rec("p:a"), rec("p:b")]
    for rule in LINKING:
        groups = cluster(records, [edge("p:a", "p:b", rule)], [Split("p:b", "p:a")])
        assert len(groups) == 2, rule


def test_a_split_keeps_its_records_apart_with_a_steward_edge_between_their_neighbours() -> None:
    records = [rec("p:a"), rec("p:n1"), rec("p:n2"), rec("p:b")]
    edges = [edge("p:a", "p:n1", "department_key"), edge("p:b", "p:n2", "department_key"),
             edge("p:n1", "p:n2", "steward", 0.0)]
    groups = cluster(records, edges, [Split("p:a", "p:b")])
    assert not together(groups, "p:a", "p:b")
    assert together(groups, "p:n1", "p:n2")  # the steward's edge goes first
    assert {len(g) for g in groups} == {3, 1}


def test_a_split_does_not_separate_records_it_does_not_name() -> None:
    records = [rec("p:a"), rec("p:b"), rec("p:c")]
    groups = cluster(records, [edge("p:a", "p:c"), edge("p:b", "p:c", score=10.0)],
                     [Split("p:a", "p:b")])
    assert partition(groups) == {frozenset({"p:a", "p:c"}), frozenset({"p:b"})}


def test_each_link_names_its_strongest_edge_inside_the_group() -> None:
    records = [rec("p:a", ID_1), rec("p:b", ID_1), rec("c:c"), rec("s:d", ID_2)]
    edges = [edge("p:a", "p:b", "department_key"), edge("p:a", "c:c", score=40.0),
             edge("p:b", "c:c", score=25.0), edge("p:a", "p:b", "id_number", 30.0),
             edge("c:c", "s:d", score=30.0)]
    groups = cluster(records, edges)
    assert partition(groups) == {frozenset({"p:a", "p:b", "c:c"}), frozenset({"s:d"})}
    links = links_by_ref(groups)
    assert links["p:a"].edge == edge("p:a", "p:b", "department_key")
    assert links["p:b"].edge == edge("p:a", "p:b", "department_key")
    assert links["c:c"].edge == edge("p:a", "c:c", score=40.0)
    assert links["s:d"].edge is None  # its only edge was refused (ID_2 against ID_1)


def test_two_person_numbers_of_one_department_are_two_people_despite_one_number() -> None:
    """One valid number carried by two people, each with their own police person number."""
    records = [rec("p:a", ID_1, key="R1"), rec("p:b", ID_1, key="R2"), rec("c:c", ID_1)]
    groups = cluster(records, [edge("p:a", "p:b", "id_number", 30.0),
                               edge("p:a", "c:c", "id_number", 40.0),
                               edge("p:b", "c:c", "id_number", 20.0)])
    assert partition(groups) == {frozenset({"p:a", "c:c"}), frozenset({"p:b"})}


def test_a_steward_joins_two_person_numbers_of_one_department() -> None:
    records = [rec("p:a", ID_1, key="R1"), rec("p:b", ID_1, key="R2")]
    assert partition(cluster(records, [edge("p:a", "p:b", "id_number", 30.0)])) == {
        frozenset({"p:a"}), frozenset({"p:b"})}
    assert partition(cluster(records, [edge("p:a", "p:b", "steward")])) == {
        frozenset({"p:a", "p:b"})}


def test_person_numbers_of_different_departments_never_keep_records_apart() -> None:
    records = [rec("p:a", ID_1, key="R1"), rec("s:b", ID_1, key="R2")]
    assert partition(cluster(records, [edge("p:a", "s:b", "id_number", 30.0)])) == {
        frozenset({"p:a", "s:b"})}


# --- properties ----------------------------------------------------------------------------

REFS = [f"{source}:{i}" for i, source in enumerate("ppccssppcs")]


@st.composite
def scenes(draw: st.DrawFn, rules: Sequence[str] = tuple(RULE_STRENGTH)
           ) -> tuple[list[RecordFeatures], list[Edge], list[Split]]:
    refs = REFS[:draw(st.integers(1, len(REFS)))]
    records = [rec(ref, draw(st.sampled_from((None, None, ID_1, ID_2, ID_3))), draw(st.booleans()),
                   draw(st.sampled_from((None, None, "K1", "K2"))))
               for ref in refs]
    pairs = st.tuples(st.sampled_from(refs), st.sampled_from(refs)).filter(lambda p: p[0] != p[1])
    edges = draw(st.lists(st.builds(lambda pair, rule, score: edge(*pair, rule, score),
                                    pairs, st.sampled_from(rules),
                                    st.sampled_from((9.0, 15.0, 20.0, 35.0))), max_size=20))
    splits = draw(st.lists(pairs.map(lambda p: Split(*p)), max_size=3))
    return records, edges, splits


@given(scenes(), st.data())
def test_the_partition_does_not_depend_on_order_or_duplicates(scene, data) -> None:
    records, edges, splits = scene
    expected = cluster(records, edges, splits)
    repeated = data.draw(st.lists(st.sampled_from(records), max_size=3))
    shuffled_records = data.draw(st.permutations(records + repeated))
    duplicated = edges + data.draw(st.lists(st.sampled_from(edges), max_size=10)) if edges else []
    shuffled_edges = data.draw(st.permutations(duplicated))
    shuffled_splits = data.draw(st.permutations(splits + [Split(s.b, s.a) for s in splits]))
    again = cluster(shuffled_records, shuffled_edges, shuffled_splits)
    assert again == expected  # the same groups, in the same order, with the same Links


@given(scenes())
def test_every_record_is_in_exactly_one_group(scene) -> None:
    records, edges, splits = scene
    refs = [link.ref for group in cluster(records, edges, splits) for link in group]
    assert sorted(refs) == sorted(r.ref for r in records)


@given(scenes())
def test_splits_always_hold(scene) -> None:
    records, edges, splits = scene
    groups = cluster(records, edges, splits)
    for split in splits:
        assert not together(groups, split.a, split.b)


@given(scenes(rules=("id_number", "probabilistic", "review", "id_conflict")))
def test_without_overriding_edges_no_group_holds_two_trusted_numbers(scene) -> None:
    records, edges, splits = scene
    by_ref = {r.ref: r for r in records}
    for group in cluster(records, edges, splits):
        numbers = {by_ref[link.ref].id_number for link in group
                   if not by_ref[link.ref].id_suspect} - {None}
        assert len(numbers) <= 1


@given(scenes())
def test_each_link_is_explained_by_a_linking_edge_inside_its_group(scene) -> None:
    records, edges, splits = scene
    for group in cluster(records, edges, splits):
        refs = {link.ref for link in group}
        for link in group:
            if len(group) == 1:
                assert link.edge is None
                continue
            assert link.edge is not None and link.edge in edges
            assert link.edge.links
            assert link.ref in (link.edge.a, link.edge.b)
            assert {link.edge.a, link.edge.b} <= refs
            inside = [e for e in edges if e.links and link.ref in (e.a, e.b)
                      and {e.a, e.b} <= refs]
            assert link.edge == min(inside, key=lambda e: (RULE_STRENGTH[e.rule], -e.score,
                                                           e.a, e.b))


@given(scenes())
def test_every_linking_edge_left_between_groups_was_refused_for_a_reason(scene) -> None:
    records, edges, splits = scene
    groups = cluster(records, edges, splits)
    by_ref = {r.ref: r for r in records}
    index = {link.ref: i for i, group in enumerate(groups) for link in group}
    members = [{link.ref for link in group} for group in groups]
    numbers = [{by_ref[r].id_number for r in m if not by_ref[r].id_suspect} - {None}
               for m in members]
    for e in edges:
        if not e.links or index[e.a] == index[e.b]:
            continue
        x, y = index[e.a], index[e.b]
        split_between = any({s.a, s.b} <= members[x] | members[y]
                            and not {s.a, s.b} <= members[x] and not {s.a, s.b} <= members[y]
                            for s in splits)
        number_clash = (e.rule not in OVERRIDING and numbers[x] and numbers[y]
                        and numbers[x] != numbers[y])
        keys = [{(by_ref[r].source, by_ref[r].person_key) for r in m if by_ref[r].person_key}
                for m in (members[x], members[y])]
        key_clash = e.rule != "steward" and any(
            source == other_source and not ({k for s, k in keys[0] if s == source}
                                            & {k for s, k in keys[1] if s == source})
            for source, _ in keys[0] for other_source, _ in keys[1])
        assert split_between or number_clash or key_clash or _fits_two_alike(e, edges, by_ref), e


def _fits_two_alike(edge: Edge, edges: Sequence[Edge], by_ref: dict[str, RecordFeatures]
                    ) -> bool:
    """A scored link of a nameless record that fits two people (trusted numbers) within
    AMBIGUOUS_BITS of each other: the twins rule keeps it from linking either."""
    if edge.rule != "probabilistic":
        return False
    for ref in (edge.a, edge.b):
        if by_ref[ref].name is not None:
            continue
        best: dict[str, float] = {}
        for e in edges:
            if e.rule == "probabilistic" and ref in (e.a, e.b):
                other = by_ref[e.b if e.a == ref else e.a]
                if other.id_number and not other.id_suspect:
                    best[other.id_number] = max(best.get(other.id_number, e.score), e.score)
        top = sorted(best.values(), reverse=True)
        if len(top) > 1 and top[0] - top[1] < AMBIGUOUS_BITS:
            return True
    return False


def test_a_nameless_record_fitting_two_people_alike_joins_neither() -> None:
    """Twins born the same day at one address, and a birth certificate without a name: only a
    name could tell which twin it is, so it waits for a steward (its edges become reviews)."""
    records = [rec("p:a", ID_1), rec("h:m"), rec("p:b", ID_2)]
    alike = [edge("p:a", "h:m", score=16.4), edge("h:m", "p:b", score=16.0)]
    assert partition(cluster(records, alike)) == {frozenset({"p:a"}), frozenset({"h:m"}),
                                                  frozenset({"p:b"})}
    apart = [edge("p:a", "h:m", score=18.0), edge("h:m", "p:b", score=16.0)]
    assert partition(cluster(records, apart)) == {frozenset({"p:a", "h:m"}),
                                                  frozenset({"p:b"})}
