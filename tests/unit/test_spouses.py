"""Tests for streams/spouses.py: what a record's named spouse says, and its blocking keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams import id_protection as ids
from streams.features import RecordFeatures
from streams.household_store import paths
from streams.matching import keys_of
from streams.spouses import household_pairs, partners_of, spouse_level
from tests.unit.test_matching import make_id, meet, record

HUSBAND, WIFE, SON = make_id(born="19800512", sequence=3), make_id(born="19820720", sequence=2), \
    make_id(born="20200301", sequence=5)
WIFES_OWN = record("civil_affairs:W", id_number=WIFE, spouses=frozenset({HUSBAND}))
SPARSE = record("civil_affairs:S", name="任林", spouses=frozenset({WIFE}))


def test_the_spouse_named_says_whom_it_married() -> None:
    partners = partners_of([WIFES_OWN, SPARSE])
    assert partners == {WIFE: frozenset({HUSBAND})}
    assert spouse_level(SPARSE, record("police:H", id_number=HUSBAND), partners) == "agree"
    assert spouse_level(record("police:C", id_number=SON), SPARSE, partners) == "differ"


def test_no_evidence_without_a_trusted_number_or_the_spouses_word() -> None:
    partners = partners_of([WIFES_OWN])
    assert spouse_level(SPARSE, record("police:X", name="任林"), partners) is None  # no number
    suspect = record("police:Y", id_number=HUSBAND, id_suspect=True)
    assert spouse_level(SPARSE, suspect, partners) is None
    assert spouse_level(SPARSE, record("police:H", id_number=HUSBAND), {}) is None
    # a suspect number's records say nothing of whom its person married
    assert partners_of([record("civil_affairs:Z", id_number=WIFE, id_suspect=True,
                               spouses=frozenset({SON}))]) == {}


def test_a_spouse_married_twice_names_both() -> None:
    again = record("civil_affairs:W2", id_number=WIFE, spouses=frozenset({SON}))
    partners = partners_of([WIFES_OWN, again])
    assert spouse_level(SPARSE, record("police:H", id_number=HUSBAND), partners) == "agree"
    assert spouse_level(SPARSE, record("police:C", id_number=SON), partners) == "agree"


NUMBERS = st.sampled_from([HUSBAND, WIFE, SON])


@st.composite
def records(draw: st.DrawFn) -> RecordFeatures:
    return record(f"civil_affairs:{draw(st.integers(0, 9))}",
                  id_number=draw(st.none() | NUMBERS), id_suspect=draw(st.booleans()),
                  spouses=frozenset(draw(st.lists(NUMBERS, max_size=2))))


@given(st.lists(records(), max_size=6), records(), records())
def test_the_level_does_not_depend_on_which_record_comes_first(store, a, b) -> None:
    partners = partners_of(store)
    assert spouse_level(a, b, partners) == spouse_level(b, a, partners)


@given(records(), records())
def test_a_namer_and_its_spouses_records_meet_both_ways(a, b) -> None:
    """What a concurrent merge's recheck relies on (streams/merge.py)."""
    meets = meet(a, b)
    names_other = bool(a.spouses) and b.id_number in a.spouses and not b.id_suspect
    named_by_other = bool(b.spouses) and a.id_number in b.spouses and not a.id_suspect
    if (names_other and b.spouses) or (named_by_other and a.spouses):
        assert meets


def test_spouse_keys_are_one_sided() -> None:
    keys = keys_of(SPARSE)
    assert f"sn:{WIFE}" in keys.stored and f"si:{WIFE}" in keys.lookup
    own = keys_of(WIFES_OWN)
    assert {f"sn:{HUSBAND}", f"si:{WIFE}"} <= own.stored
    assert {f"si:{HUSBAND}", f"sn:{WIFE}"} <= own.lookup


def test_spouse_keys_are_stored_hashed_like_the_number_keys() -> None:
    keyring = ids.new_keyring()
    for key in (f"sn:{WIFE}", f"si:{WIFE}"):
        protected = ids.key_protector(keyring)(key)
        assert WIFE not in protected and protected.startswith(key[:3])


@given(st.lists(records(), max_size=8))
def test_a_household_pair_is_found_from_either_side(store) -> None:
    """What the streaming merge relies on: whichever of the two comes in a batch finds the
    other among the stored ones (streams/resolve.py, streams/household_store.py)."""
    latest = list({r.ref: r for r in store}.values())
    partners = partners_of(latest)
    for a in latest:
        for b in latest:
            ab = any(o.ref == b.ref for _, o in household_pairs([a], latest, partners))
            ba = any(o.ref == a.ref for _, o in household_pairs([b], latest, partners))
            assert ab == ba, (a, b)


def test_a_misspelt_registration_is_compared_with_the_person_its_spouse_married() -> None:
    """No blocking key meets 白琴 and 白琴静; the husband's registration ties them."""
    wife = record("police:W", id_number=WIFE, name="白琴静", sex="F")
    husbands = record("civil_affairs:H", id_number=HUSBAND, spouses=frozenset({WIFE}))
    misspelt = record("civil_affairs:M", name="白琴", sex="F", spouses=frozenset({HUSBAND}))
    assert not meet(wife, misspelt)
    partners = partners_of([wife, husbands, misspelt])
    pairs = {(a.ref, b.ref) for a, b in household_pairs([misspelt], [wife, husbands], partners)}
    assert pairs == {("civil_affairs:M", "police:W")}
    assert {(a.ref, b.ref) for a, b in household_pairs([wife], [misspelt, husbands],
                                                        partners)} == {("police:W",
                                                                        "civil_affairs:M")}
    through = paths([misspelt, wife], [wife, husbands, misspelt], partners)
    assert through == {"civil_affairs:M": {"civil_affairs:H", "police:W"},
                       "police:W": {"civil_affairs:H", "civil_affairs:M"}}
