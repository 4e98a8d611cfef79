"""Tests for streams.resolve on the whole sample city: the clean run the streaming merge must match.

The sample's 949 records go through features_of, the parameters are estimated from those same
records (no truth used), and resolve groups them; truth.csv then scores the grouping pairwise.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import pytest

from streams.clustering import Link, Split
from streams.estimate import estimate_parameters
from streams.evaluation import pairwise_scores
from streams.features import RecordFeatures, features_of
from streams.matching import Edge, Parameters, keys_of
from streams.resolve import edges_among, edges_under, resolve
from tests.samples import SAMPLE, sample_events


@dataclass
class Sample:
    records: list[RecordFeatures]
    truth: dict[str, str]  # record ref -> person
    parameters: Parameters

    @cached_property
    def groups(self) -> list[list[Link]]:
        return resolve(self.records, self.parameters)

    @cached_property
    def by_person(self) -> dict[str, list[RecordFeatures]]:
        people: dict[str, list[RecordFeatures]] = defaultdict(list)
        for r in self.records:
            people[self.truth[r.ref]].append(r)
        return dict(people)


@pytest.fixture(scope="module")
def sample() -> Sample:
    records = [features_of(event) for event in sample_events()]
    with open(SAMPLE / "truth.csv", encoding="utf-8-sig", newline="") as file:
        truth = {f"{r['source']}:{r['record_id']}": r["person"] for r in csv.DictReader(file)}
    return Sample(records, truth, estimate_parameters(records))


def resident_of(groups: list[list[Link]]) -> dict[str, str]:
    """Record ref -> its group's first ref (a stable name for the group)."""
    return {link.ref: group[0].ref for group in groups for link in group}


def partition(groups: list[list[Link]]) -> set[frozenset[str]]:
    return {frozenset(link.ref for link in group) for group in groups}


def people_pairs(sample: Sample, related) -> list[tuple[str, str]]:
    """Pairs of different people (by truth) for which `related(records_a, records_b)` holds."""
    return [(p, q) for p, q in combinations(sorted(sample.by_person), 2)
            if related(sample.by_person[p], sample.by_person[q])]


def assert_never_merged(sample: Sample, pairs: list[tuple[str, str]]) -> None:
    resident = resident_of(sample.groups)
    for p, q in pairs:
        residents_p = {resident[r.ref] for r in sample.by_person[p]}
        residents_q = {resident[r.ref] for r in sample.by_person[q]}
        assert not residents_p & residents_q, (p, q)


# --- accuracy ------------------------------------------------------------------------------


def test_the_sample_has_every_record_in_truth(sample: Sample) -> None:
    assert len(sample.records) == 949
    assert {r.ref for r in sample.records} == set(sample.truth)


def test_pairwise_precision_and_recall_on_the_sample(sample: Sample) -> None:
    scores = pairwise_scores(resident_of(sample.groups), sample.truth)
    assert scores.precision >= 0.999
    assert scores.recall >= 0.999
    # as observed: every true pair found, no false pair
    assert (scores.predicted, scores.true, scores.correct, scores.records) == (859, 859, 859, 949)
    assert len(sample.groups) == len(set(sample.truth.values())) == 401


def test_every_record_is_grouped_once(sample: Sample) -> None:
    refs = [link.ref for group in sample.groups for link in group]
    assert sorted(refs) == sorted(r.ref for r in sample.records)


def test_no_resident_holds_two_trusted_numbers(sample: Sample) -> None:
    by_ref = {r.ref: r for r in sample.records}
    for group in sample.groups:
        numbers = {by_ref[link.ref].id_number for link in group
                   if not by_ref[link.ref].id_suspect} - {None}
        assert len(numbers) <= 1, [link.ref for link in group]


def test_the_sample_links_by_every_kind_of_rule(sample: Sample) -> None:
    rules = {link.edge.rule for group in sample.groups for link in group if link.edge}
    assert rules == {"department_key", "id_number", "probabilistic"}
    singletons = [g for g in sample.groups if len(g) == 1]
    assert all(g[0].edge is None for g in singletons)


# --- traps ---------------------------------------------------------------------------------


def _twins(a: list[RecordFeatures], b: list[RecordFeatures]) -> bool:
    """Same full birth date and a shared address: the generator's twins."""
    births = {r.birth for r in a if r.birth and len(r.birth) == 10}
    places = {x.key() for r in a for x in r.addresses}
    return bool(births & {r.birth for r in b} and places & {x.key() for r in b
                                                             for x in r.addresses})


def _same_name(a: list[RecordFeatures], b: list[RecordFeatures]) -> bool:
    """Same name, or the same pinyin (江磊 and 姜磊)."""
    return bool({r.pinyin for r in a if r.pinyin} & {r.pinyin for r in b if r.pinyin})


def test_twins_in_the_sample_are_not_merged(sample: Sample) -> None:
    twins = people_pairs(sample, _twins)
    assert twins == [("T0000103", "T0000104")]  # 江涛梓 and 江涛涛, born 2005-04-06
    assert_never_merged(sample, twins)


def test_different_people_with_the_same_name_are_not_merged(sample: Sample) -> None:
    namesakes = people_pairs(sample, _same_name)
    names = {(sample.by_person[p][0].name, sample.by_person[q][0].name) for p, q in namesakes}
    assert len(namesakes) == 6
    assert ("江磊", "姜磊") in names and ("沙马木呷", "沙马木呷") in names
    assert_never_merged(sample, namesakes)


def test_people_born_the_same_day_are_not_merged(sample: Sample) -> None:
    def same_birthday(a: list[RecordFeatures], b: list[RecordFeatures]) -> bool:
        return bool({r.birth for r in a if r.birth and len(r.birth) == 10}
                    & {r.birth for r in b})

    pairs = people_pairs(sample, same_birthday)
    assert len(pairs) >= 20
    assert_never_merged(sample, pairs)


# --- a clean run is a function of the set ------------------------------------------------


def test_resolve_does_not_depend_on_record_order(sample: Sample) -> None:
    expected = partition(sample.groups)
    for seed in (1, 2):
        shuffled = sample.records[:]
        random.Random(seed).shuffle(shuffled)
        assert partition(resolve(shuffled, sample.parameters)) == expected


def test_records_arriving_twice_change_nothing(sample: Sample) -> None:
    twice = sample.records + sample.records[::-1]
    assert resolve(twice, sample.parameters) == sample.groups


def test_edges_among_finds_each_pair_once(sample: Sample) -> None:
    edges = edges_among(sample.records, sample.parameters)
    pairs = [(e.a, e.b) for e in edges]
    assert len(pairs) == len(set(pairs))
    assert all(a < b for a, b in pairs)


def test_edges_among_against_other_records_only_pairs_across(sample: Sample) -> None:
    police = [r for r in sample.records if r.source == "police"]
    others = [r for r in sample.records if r.source != "police"]
    across = edges_among(police, sample.parameters, against=others)
    assert across
    for e in across:
        assert {e.a.split(":")[0], e.b.split(":")[0]} != {"police"}
        assert e.a.startswith("police:") or e.b.startswith("police:")


def test_an_index_of_only_the_keys_looked_up_finds_the_same_edges(sample: Sample) -> None:
    """What a merge does: the stored records indexed only by the keys its lookups matched."""
    police = [r for r in sample.records if r.source == "police"]
    others = [r for r in sample.records if r.source != "police"]
    lookups = {r.ref: keys_of(r).lookup for r in police}
    wanted = set().union(*lookups.values())
    index: dict[str, list[RecordFeatures]] = defaultdict(list)
    for record in others:
        for key in keys_of(record).stored & wanted:
            index[key].append(record)
    matched = edges_under(police, lookups, index, others, sample.parameters)
    assert matched
    assert matched == edges_among(police, sample.parameters, against=others)


# --- steward decisions ---------------------------------------------------------------------


def test_a_steward_split_separates_two_records_of_one_person(sample: Sample) -> None:
    person = "T0000000"
    refs = sorted(r.ref for r in sample.by_person[person])
    first, second = refs[0], refs[1]
    groups = resolve(sample.records, sample.parameters, splits=[Split(first, second)])
    resident = resident_of(groups)
    assert resident[first] != resident[second]
    assert len(groups) == len(sample.groups) + 1


def test_a_steward_confirmation_joins_two_records_of_different_numbers(sample: Sample) -> None:
    a = sample.by_person["T0000103"][0].ref  # 江涛梓, police
    b = sample.by_person["T0000104"][0].ref  # 江涛涛, police, a different valid number
    confirmed = Edge(min(a, b), max(a, b), "steward", 0.0, ())
    groups = resolve(sample.records, sample.parameters, confirmed=[confirmed])
    resident = resident_of(groups)
    assert resident[a] == resident[b]
    twins = {r.ref for p in ("T0000103", "T0000104") for r in sample.by_person[p]}
    untouched = {g for g in partition(sample.groups) if not g & twins}
    assert untouched == {g for g in partition(groups) if not g & twins}


def test_a_steward_confirmation_keeps_each_persons_other_records(sample: Sample) -> None:
    a = sample.by_person["T0000103"][0].ref
    b = sample.by_person["T0000104"][0].ref
    confirmed = Edge(min(a, b), max(a, b), "steward", 0.0, ())
    groups = resolve(sample.records, sample.parameters, confirmed=[confirmed])
    resident = resident_of(groups)
    # social_security:RS2025040100000076 has 江涛梓's number, like police:GA201502080000124
    assert {resident[r.ref] for p in ("T0000103", "T0000104") for r in sample.by_person[p]} == {
        resident[a]}
