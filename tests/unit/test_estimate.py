"""Tests for streams.estimate with the stewards' decisions as labelled pairs.

Records are built directly as RecordFeatures: only the fields compared matter here. ID numbers
are placeholders (`N1`, ...), not real numbers: estimation only compares them for equality.
With `random_pairs=0` u comes from the split pairs alone, so every count can be worked out by
hand (add-one smoothing: (count + 1) / (pairs + levels)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.estimate import LabelledPair, estimate_parameters, labelled_pairs
from streams.features import RecordFeatures
from streams.matching import Parameters
from streams.normalize import name_pinyin


def record(ref: str, **fields: Any) -> RecordFeatures:
    if fields.get("name"):
        fields["pinyin"] = name_pinyin(fields["name"])
    return RecordFeatures(ref=ref, source=ref.split(":", 1)[0], **fields)


# Two people carrying one trusted number (a relative's, typed as their own), and one person
# whose two records share theirs.
SHARED_A = record("police:1", id_number="N1", name="张伟", birth="1956-03-12", sex="M")
SHARED_B = record("health:1", id_number="N1", name="张丽", birth="1958-07-01", sex="F")
SAME_C = record("police:2", id_number="N2", name="王芳", birth="1980-01-01", sex="F")
SAME_D = record("health:2", id_number="N2", name="王芳", birth="1980-01-01", sex="F")
# One person the rules cannot tie: a mistyped number and a married name.
HARD_E = record("police:3", id_number="N3", name="刘秀英", birth="1990-05-06", sex="F")
HARD_F = record("civil_affairs:3", id_number="N4", name="陈秀英", birth="1990-05-06", sex="F")
RECORDS = [SHARED_A, SHARED_B, SAME_C, SAME_D, HARD_E, HARD_F]


def estimated(labelled: Sequence[LabelledPair] = (), random_pairs: int = 500) -> Parameters:
    return estimate_parameters(RECORDS, random_pairs=random_pairs, labelled=labelled)


def split(a: RecordFeatures, b: RecordFeatures) -> LabelledPair:
    return LabelledPair(a.ref, b.ref, same=False)


def confirm(a: RecordFeatures, b: RecordFeatures) -> LabelledPair:
    return LabelledPair(a.ref, b.ref, same=True)


def test_a_split_pair_sharing_a_trusted_number_never_counts_as_a_match() -> None:
    unlabelled = estimated(random_pairs=0)
    labelled = estimated(random_pairs=0, labelled=[split(SHARED_B, SHARED_A)])
    # m pairs: the rules tie A-B (name differ) and C-D (name exact); the split leaves C-D.
    assert unlabelled.m["name"] == {"exact": 2 / 6, "pinyin": 1 / 6, "close": 1 / 6,
                                    "differ": 2 / 6}
    assert labelled.m["name"] == {"exact": 2 / 5, "pinyin": 1 / 5, "close": 1 / 5,
                                  "differ": 1 / 5}
    assert labelled.m["sex"] == {"agree": 2 / 3, "differ": 1 / 3}
    # ... and A-B is a non-match: the only u pair here.
    assert labelled.u["name"]["differ"] == 2 / 5
    assert labelled.u["sex"] == {"agree": 1 / 3, "differ": 2 / 3}
    assert labelled_pairs(RECORDS, [split(SHARED_A, SHARED_B)]) == ([], [(SHARED_B, SHARED_A)])


def test_a_confirmed_pair_whose_fields_disagree_lowers_m_of_agreement() -> None:
    unlabelled = estimated(random_pairs=0)
    labelled = estimated(random_pairs=0, labelled=[confirm(HARD_E, HARD_F)])
    # E-F: name close, id differ, birth and sex agree; counted for every field, the ID too.
    assert labelled.m["name"]["exact"] == 2 / 7 < unlabelled.m["name"]["exact"] == 2 / 6
    assert labelled.m["name"]["close"] == 2 / 7 > unlabelled.m["name"]["close"]
    assert labelled.m["id"]["exact"] == 1 / 4 < unlabelled.m["id"]["exact"] == 1 / 3
    assert labelled.m["id"]["differ"] == 2 / 4
    assert labelled.m["birth"]["exact"] > unlabelled.m["birth"]["exact"]
    assert labelled.u == unlabelled.u


def test_a_confirmed_pair_the_rules_already_tie_counts_once() -> None:
    unlabelled = estimated(random_pairs=0)
    labelled = estimated(random_pairs=0, labelled=[confirm(SAME_D, SAME_C)])
    assert {f: m for f, m in labelled.m.items() if f != "id"} == {
        f: m for f, m in unlabelled.m.items() if f != "id"}
    # the ID's m pairs are those sharing a person number: C-D joins them
    assert labelled.m["id"]["exact"] == 2 / 4 > unlabelled.m["id"]["exact"]


def test_the_latest_decision_on_a_pair_stands() -> None:
    changed_to_split = [confirm(HARD_E, HARD_F), split(HARD_F, HARD_E)]
    changed_to_confirm = [split(HARD_E, HARD_F), confirm(HARD_F, HARD_E)]
    assert labelled_pairs(RECORDS, changed_to_split) == ([], [(HARD_F, HARD_E)])
    assert labelled_pairs(RECORDS, changed_to_confirm) == ([(HARD_F, HARD_E)], [])
    assert estimated(changed_to_split) == estimated([split(HARD_E, HARD_F)])
    assert estimated(changed_to_confirm) == estimated([confirm(HARD_E, HARD_F)])


def test_decisions_on_records_not_among_them_are_ignored() -> None:
    gone = record("police:9", id_number="N9", name="赵敏", birth="1970-02-02", sex="F")
    decisions = [confirm(HARD_E, gone), split(gone, SHARED_A)]
    assert labelled_pairs(RECORDS, decisions) == ([], [])
    assert estimated(decisions) == estimated()


# A pool for the properties: person numbers (one department's two, and one shared), numbers
# shared by one person and by two, and a record stating nothing comparable.
POOL = [*RECORDS,
        record("police:4", person_key="police:P4", id_number="N5", name="李娜", sex="F"),
        record("police:5", person_key="police:P4", id_number="N6", name="李娜", sex="F"),
        record("police:6", person_key="police:P6", id_number="N5", name="李敏", sex="F"),
        record("health:7", birth="2001-09-09", phone="13800000000"),
        record("civil_affairs:8", name="周杰", birth="2001-09-09", phone="13800000000")]
REFS = [r.ref for r in POOL] + ["police:gone"]
decisions = st.lists(st.builds(LabelledPair, st.sampled_from(REFS), st.sampled_from(REFS),
                               st.booleans()), max_size=12)


@given(st.permutations(POOL), decisions)
def test_the_order_of_the_records_does_not_matter(shuffled: list[RecordFeatures],
                                                  labelled: list[LabelledPair]) -> None:
    assert (estimate_parameters(shuffled, random_pairs=300, labelled=labelled)
            == estimate_parameters(POOL, random_pairs=300, labelled=labelled))


@given(decisions, st.data())
def test_a_decision_made_again_changes_nothing(labelled: list[LabelledPair],
                                               data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(labelled) - 1)) if labelled else 0
    again = [*labelled[:i + 1], *[LabelledPair(p.b, p.a, p.same) for p in labelled[i:i + 1]],
             *labelled[i + 1:]]
    assert (estimate_parameters(POOL, random_pairs=300, labelled=again)
            == estimate_parameters(POOL, random_pairs=300, labelled=labelled))


@given(decisions, st.randoms(use_true_random=False))
def test_only_the_order_of_decisions_on_one_pair_matters(labelled: list[LabelledPair],
                                                          rng: Any) -> None:
    latest = list({p.key: p for p in labelled}.values())
    rng.shuffle(latest)
    assert (estimate_parameters(POOL, random_pairs=300, labelled=latest)
            == estimate_parameters(POOL, random_pairs=300, labelled=labelled))
