"""Tests for streams.estimation_sample: which records an estimate reads.

Records are built directly as RecordFeatures with placeholder numbers (`N1`, ...): the rule
only groups and ranks them. The limits are made small so the cut shows.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.estimation_sample import first_groups, partners_for, rank, sample_of
from streams.features import RecordFeatures
from streams.spouses import partners_of


def record(ref: str, **fields: Any) -> RecordFeatures:
    return RecordFeatures(ref=ref, source=ref.split(":", 1)[0], **fields)


def refs(group: list[RecordFeatures]) -> list[str]:
    return [r.ref for r in group]


# 40 records: pairs sharing a trusted number, a suspect number shared, person numbers shared
# by three, and spouses named (numbers 0..9 married in pairs).
CITY = [record(f"police:{i:02d}", id_number=f"N{i // 2}", id_suspect=i % 7 == 0,
               person_key=f"police:P{i // 3}", spouses=frozenset({f"N{(i // 2) ^ 1}"}))
        for i in range(20)] + [record(f"health:{i:02d}", id_number=f"N{i}") for i in range(20)]


def test_rank_is_postgresql_md5_of_the_ref() -> None:
    assert rank("police:01") == "900b91f6246898652c931b47e1a1e90e"  # SELECT md5('police:01')


def test_u_takes_the_records_with_the_smallest_rank_sorted_by_ref() -> None:
    sample = sample_of(CITY, (), u_records=5, m_pairs=10**6)
    expected = sorted(sorted(CITY, key=lambda r: rank(r.ref))[:5], key=lambda r: r.ref)
    assert sample.unrelated == expected


def test_groups_come_in_the_rank_of_their_smallest_ref_until_their_pairs_reach_the_limit() -> None:
    every = first_groups(CITY, lambda r: r.trusted_id, m_pairs=10**6)
    assert all(len(g) > 1 and refs(g) == sorted(refs(g)) for g in every)
    assert [rank(g[0].ref) for g in every] == sorted(rank(g[0].ref) for g in every)
    cut = first_groups(CITY, lambda r: r.trusted_id, m_pairs=3)
    pairs = [len(g) * (len(g) - 1) // 2 for g in every]
    taken = next(i for i in range(len(every)) if sum(pairs[:i + 1]) >= 3) + 1
    assert cut == every[:taken]


def test_a_suspect_number_groups_nothing_and_a_group_needs_two_records() -> None:
    groups = {tuple(refs(g)) for g in first_groups(CITY, lambda r: r.trusted_id, m_pairs=10**6)}
    assert ("health:00", "police:01") in groups  # police:00 carries N0 as suspect
    assert ("health:07", "police:15") in groups  # and police:14 N7
    assert not any("health:15" in g for g in groups)  # N15 is no one else's
    assert len(groups) == 10


def test_the_partners_are_those_of_the_spouses_the_sample_names() -> None:
    sample = sample_of(CITY, (), u_records=3, m_pairs=1)
    named = {s for r in sample.records() for s in r.spouses}
    assert set(sample.partners) == named & set(partners_of(CITY))
    assert sample.partners == partners_for(sample.records(), partners_of(CITY))


def test_the_labelled_records_are_in_even_beyond_the_limits() -> None:
    sample = sample_of(CITY, {"health:19", "police:gone"}, u_records=1, m_pairs=1)
    assert set(sample.labelled) == {"health:19"}
    assert "health:19" in refs(sample.records())


@given(st.permutations(CITY), st.integers(1, 45), st.integers(1, 60))
def test_the_order_of_the_records_does_not_matter(shuffled: list[RecordFeatures], u: int,
                                                  m: int) -> None:
    assert sample_of(shuffled, {"police:03"}, u, m) == sample_of(CITY, {"police:03"}, u, m)


def test_a_city_within_the_limits_is_estimated_from_all_of_it() -> None:
    sample = sample_of(CITY, ())
    assert sorted(refs(sample.records())) == sorted(r.ref for r in CITY)
