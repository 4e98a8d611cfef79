"""Tests for streams.matching: edit distance, blocking keys, comparison levels and compare().

Records are built two ways: directly as RecordFeatures (for the rules and thresholds), and
through features_of on a copy of a sample event with some parsed fields replaced (for the
comparison levels, so that names and dates go through the same normalisation as in the hub).
Every ID number here is synthetic (region + birth date + sequence + computed check character).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from msgspec.structs import replace

from connectors.fields import parse_id_number
from streams.estimate import estimate_parameters
from streams.features import (
    RecordFeatures,
    department_of,
    features_of,
    number_contradicts_record,
)
from streams.matching import (
    LEVELS,
    Parameters,
    compare,
    comparison,
    edit_distance,
    keys_of,
    near_valid_numbers,
    stored_keys,
)
from streams.normalize import name_pinyin
from streams.normalize_address import parse_address
from tests.samples import sample5_events, sample_events

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
ID_CHARS = "0123456789X"
REGIONS = ("511802", "511803", "511822", "511825", "500105", "530102")
DEFAULT_PARAMETERS = Path(__file__).resolve().parents[2] / "streams" / "default_parameters.json"

# Weights in bits for the threshold tests: m = 2**bits and u = 1, so weight() is exactly bits.
BITS = {
    "id": {"exact": 10.0, "near": 5.0, "differ": -10.0},
    "name": {"exact": 4.0, "pinyin": 3.0, "close": 1.0, "differ": -4.0},
    "birth": {"exact": 5.0, "compatible": 3.0, "slip": 2.0, "year": 0.0, "differ": -5.0},
    "sex": {"agree": 1.0, "differ": -5.0},
    "address": {"same": 4.0, "near": 1.0, "differ": -1.0},
    "phone": {"agree": 6.0, "differ": -1.0},
}


# --- helpers -------------------------------------------------------------------------------


def check_char(first17: str) -> str:
    """Reference ISO 7064 MOD 11-2, written independently of the module under test."""
    value = (12 - sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(region: str = "511802", born: str = "19560312", sequence: int = 123) -> str:
    first17 = f"{region}{born}{sequence:03d}"
    return first17 + check_char(first17)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    born = draw(st.dates(date(1900, 1, 1), date(2030, 12, 31)))
    sequence = draw(st.integers(0, 999))
    return make_id(draw(st.sampled_from(REGIONS)), f"{born:%Y%m%d}", sequence)


def bits_parameters(link: float = 15.0, review: float = 8.0) -> Parameters:
    m = {f: {level: 2.0**bits for level, bits in levels.items()} for f, levels in BITS.items()}
    u = {f: dict.fromkeys(levels, 1.0) for f, levels in BITS.items()}
    return Parameters(m=m, u=u, link=link, review=review)


def record(ref: str, **fields: Any) -> RecordFeatures:
    """A RecordFeatures built directly; the pinyin follows the name unless given."""
    if fields.get("name") and "pinyin" not in fields:
        fields["pinyin"] = name_pinyin(fields["name"])
    return RecordFeatures(ref=ref, source=ref.split(":", 1)[0], **fields)


@cache
def base_event(department: str) -> dict[str, Any]:
    return next(e for e in sample_events() if department_of(e) == department)


def event_record(record_id: str, department: str = "police", **parsed: Any) -> RecordFeatures:
    """features_of a copy of a sample event of `department`, with parsed fields replaced."""
    event = copy.deepcopy(base_event(department))
    event["subject"] = record_id
    event["id"] = f"event-{record_id}"
    event["data"]["parsed"].update(parsed)
    return features_of(event)


def id_field(text: str | None) -> dict[str, str | None] | None:
    """The parsed `id_number` field the connectors write for `text`."""
    number = parse_id_number(text)
    return None if number is None else {"original": number.original,
                                        "normalized": number.normalized}


def levenshtein(a: str, b: str) -> int:
    """Plain Levenshtein distance (no transpositions), full matrix."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
    return d[len(a)][len(b)]


def osa(a: str, b: str) -> int:
    """Reference optimal string alignment distance, full matrix."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def has_reversed_bigram(a: str, b: str) -> bool:
    """Whether some `xy` (x != y) of `a` appears as `yx` in `b`: where a swap could help."""
    reversed_pairs = {a[i + 1] + a[i] for i in range(len(a) - 1) if a[i] != a[i + 1]}
    return any(b[j:j + 2] in reversed_pairs for j in range(len(b) - 1))


def meet(a: RecordFeatures, b: RecordFeatures) -> bool:
    """Whether `a`, looking up its keys, finds `b` where it is stored; checked to be the same
    the other way round, which the streaming merge relies on (either may come first)."""
    there = bool(keys_of(a).lookup & keys_of(b).stored)
    assert there == bool(keys_of(b).lookup & keys_of(a).stored), (a, b)
    return there


def substitute(text: str, position: int, char: str) -> str:
    return text[:position] + char + text[position + 1:]


def swap(text: str, position: int) -> str:
    return text[:position] + text[position + 1] + text[position] + text[position + 2:]


short_text = st.text(alphabet="abcd", max_size=8)
any_text = st.text(max_size=12)


# --- edit_distance -------------------------------------------------------------------------


@given(any_text, any_text)
def test_edit_distance_is_zero_exactly_for_equal_strings(a: str, b: str) -> None:
    assert (edit_distance(a, b) == 0) == (a == b)
    assert edit_distance(a, a) == 0


@given(any_text, any_text)
def test_edit_distance_is_symmetric(a: str, b: str) -> None:
    assert edit_distance(a, b) == edit_distance(b, a)


@given(st.text(min_size=1, max_size=12), st.data())
def test_one_substitution_costs_one(text: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters().filter(lambda c: c != text[position]))
    assert edit_distance(text, substitute(text, position, char)) == 1


@given(st.text(min_size=2, max_size=12), st.data())
def test_one_adjacent_swap_costs_one(text: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(text) - 2))
    assume(text[position] != text[position + 1])
    assert edit_distance(text, swap(text, position)) == 1


@given(short_text, short_text)
def test_edit_distance_is_levenshtein_when_no_swap_can_help(a: str, b: str) -> None:
    assume(not has_reversed_bigram(a, b))
    assert edit_distance(a, b) == levenshtein(a, b)


@given(short_text, short_text)
def test_edit_distance_is_the_reference_osa_and_never_above_levenshtein(a: str, b: str) -> None:
    assert edit_distance(a, b) == osa(a, b)
    assert edit_distance(a, b) <= levenshtein(a, b)


@given(any_text, any_text)
def test_edit_distance_is_bounded_by_the_longer_length(a: str, b: str) -> None:
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("", "", 0), ("", "abc", 3), ("abc", "", 3), ("kitten", "sitting", 3),
    ("ab", "ba", 1), ("abc", "ca", 3),  # OSA: no substring is edited twice
    ("511802195603121234", "511802195603121243", 1),
    ("wangwei", "wangwie", 1), ("chenwei", "chengwei", 1),
])
def test_edit_distance_examples(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


# --- blocking keys (keys_of) ---------------------------------------------------------------


@given(id_numbers(), st.data())
def test_a_mistyped_digit_shares_a_blocking_key_with_the_number(number: str,
                                                                  data: st.DataObject) -> None:
    position = data.draw(st.integers(0, 17))
    char = data.draw(st.sampled_from(ID_CHARS).filter(lambda c: c != number[position]))
    typo = substitute(number, position, char)
    assert parse_id_number(typo).normalized is None  # MOD 11-2 catches every single typo
    original = record("police:1", id_number=number)
    mistyped = record("civil_affairs:1", id_digits=typo)
    assert meet(original, mistyped)
    assert comparison(original, mistyped)["id"] == "near"


@given(id_numbers(), st.data())
def test_two_swapped_neighbours_share_a_blocking_key_with_the_number(number: str,
                                                                     data: st.DataObject) -> None:
    position = data.draw(st.integers(0, 16))
    assume(number[position] != number[position + 1])
    typo = swap(number, position)
    assert parse_id_number(typo).normalized is None  # MOD 11-2 catches every adjacent swap
    original = record("police:1", id_number=number)
    mistyped = record("social_security:1", id_digits=typo)
    assert meet(original, mistyped)
    assert comparison(original, mistyped)["id"] == "near"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@pytest.mark.parametrize("typed", [str.lower, lambda t: f" {t[:6]} {t[6:]} ",
                                   lambda t: f"\u3000{t}"])
def test_a_mistyped_number_read_from_an_event_meets_its_valid_number(typed) -> None:
    number = make_id("511803", "19560312", 457)  # a man born 1956-03-12
    typo = swap(number, 8)
    person = dict(sex="M", birth_date="1956-03-12")
    valid = event_record("GA1", "police", id_number=id_field(number), **person)
    mistyped = event_record("MZ1", "civil_affairs", id_number=id_field(typed(typo)), **person)
    assert valid.id_number == number and valid.id_digits is None and not valid.id_suspect
    assert mistyped.id_number is None and mistyped.id_digits == typo
    assert meet(valid, mistyped)
    assert comparison(valid, mistyped)["id"] == "near"


def test_a_valid_number_typed_full_width_is_normalised() -> None:
    number = make_id("511803", "19560312", 457)
    record_ = event_record("MZ1", "civil_affairs", id_number=id_field(fullwidth(number)))
    assert record_.id_number == number


def test_a_mistyped_number_typed_full_width_meets_its_valid_number() -> None:
    number = make_id("511803", "19560312", 457)
    typo = swap(number, 8)
    person = dict(sex="M", birth_date="1956-03-12")
    valid = event_record("GA1", "police", id_number=id_field(number), **person)
    mistyped = event_record("MZ1", "civil_affairs", id_number=id_field(fullwidth(typo)),
                            **person)
    assert mistyped.id_digits == typo  # actual: the full-width characters, kept as typed
    assert meet(valid, mistyped)
    assert comparison(valid, mistyped)["id"] == "near"  # actual: "differ"


def test_blocking_keys_of_a_full_record() -> None:
    number = make_id()
    r = record("police:1", person_key="police:R1", id_number=number, name="王伟",
               birth="1956-03-12", addresses=(parse_address("雨城区河北街道文化路社区12号"),))
    keys = keys_of(r)
    assert {"pk:police:R1", f"id:{number}", "nb:wangwei|1956", "bd:1956-03-12|王",
            "bm:1956-03|王"} <= keys.stored
    assert any(k.startswith("na:wangwei|") for k in keys.stored)
    # a trusted number looks up its one-deletion variants but is not stored under them; a
    # whole birth date looks up partial dates of its month, not the month's other records; a
    # named record is stored where nameless ones of its day and community look (nf), and looks
    # where they are stored (nx); a record with a number is stored where records without
    # number and birth date look for their house (hs), and looks where they are stored (hx)
    variants = {f"id~{number[:i]}{number[i + 1:]}" for i in range(18)}
    assert not variants & keys.stored
    place, house = "1956-03-12|文化路社区", "文化路社区|||12"
    assert keys.lookup == (keys.stored - {"bm:1956-03|王", f"nf:{place}", f"hs:{house}"}
                           | variants | {"bp:1956-03|王", f"nx:{place}", f"hx:{house}"})


def test_a_record_without_number_and_birth_date_meets_its_house() -> None:
    """白琴 for 白琴静: no name key meets, the house does; a sparse record with only its
    community does not meet the whole community."""
    home = parse_address("四川省雅安市石棉县安顺场镇双河村11组69号")
    person = record("police:1", id_number=make_id(), name="白琴静", birth="1986-08-17",
                    addresses=(home,))
    misspelt = record("civil_affairs:1", name="白琴", sex="F",
                      addresses=(parse_address("石棉县双河村11组69号"),))
    assert meet(misspelt, person) and meet(person, misspelt)
    neighbour = record("police:2", id_number=make_id(sequence=7), name="白琴静",
                       birth="1986-08-17", addresses=(parse_address("石棉县双河村11组70号"),))
    assert not meet(misspelt, neighbour)
    vague = record("civil_affairs:2", name="白琴", addresses=(parse_address("石棉县双河村"),))
    assert not meet(vague, person)
    # two records without number and birth date do not meet by their house
    assert not meet(misspelt, record("civil_affairs:3", name="白静", addresses=(home,)))


def test_an_untrusted_number_is_stored_under_its_variants_and_looks_up_valid_neighbours() -> None:
    typo = swap(make_id(), 3)
    keys = keys_of(record("civil_affairs:1", id_digits=typo))
    variants = {f"id~{typo[:i]}{typo[i + 1:]}" for i in range(18)}
    assert keys.stored == {f"id:{typo}"} | variants
    assert keys.lookup == keys.stored | {f"id:{n}" for n in near_valid_numbers(typo)}
    assert make_id() in near_valid_numbers(typo)


def test_two_valid_numbers_a_deletion_apart_do_not_meet_by_their_numbers() -> None:
    number = make_id("511802", "19560312", 123)
    other = min(near_valid_numbers(number) - {number})  # MOD 11-2 misses some moved digits
    a, b = record("police:1", id_number=number), record("civil_affairs:1", id_number=other)
    assert not meet(a, b)  # both trusted: their id level is `differ` anyway
    assert meet(a, replace(b, id_suspect=True))  # one untrusted: a typo it may be


def test_surname_and_birth_date_blocks() -> None:
    def born(ref: str, birth: str, name: str = "王伟") -> RecordFeatures:
        return record(ref, name=name, pinyin="", birth=birth)  # no pinyin: no nb, na keys

    assert meet(born("police:1", "1956-03-12"), born("civil_affairs:1", "1956-03-12", "王强"))
    assert not meet(born("police:1", "1956-03-12"), born("civil_affairs:1", "1956-03-13"))
    assert meet(born("police:1", "1956-03-12"), born("civil_affairs:1", "1956-03"))
    assert meet(born("police:1", "1956-03"), born("civil_affairs:1", "1956-03"))
    assert not meet(born("police:1", "1956-03"), born("civil_affairs:1", "1956-04"))
    assert not meet(born("police:1", "1956-03-12"), born("civil_affairs:1", "1956-03-12", "李伟"))


NUMBER = make_id("511802", "19560312", 123)
TYPED = sorted({swap(NUMBER, 8), substitute(NUMBER, 3, "9"), NUMBER[:17] + "X", NUMBER[:15],
                *sorted(near_valid_numbers(NUMBER))[:3]})


def related_records(ref: str) -> list[RecordFeatures]:
    """Every record about one person or a near one: a number, one of its typos or none (a
    valid one trusted or not); a whole, partial or no birth date; the same surname or another."""
    out = []
    for typed in [None, NUMBER, *TYPED]:
        valid = typed is not None and parse_id_number(typed).normalized == typed
        for name in (None, "王伟", "王强", "李伟"):
            for birth in (None, "1956", "1956-03", "1956-03-12", "1956-03-13"):
                for suspect in ((False, True) if valid else (False,)):
                    out.append(record(ref, name=name, birth=birth,
                                      id_number=typed if valid else None,
                                      id_digits=None if valid else typed, id_suspect=suspect))
    return out


def test_records_meet_each_other_both_ways() -> None:
    """A merge's recheck looks for concurrently stored records under its own records' lookup
    keys, so it relies on this: `a` finds `b` exactly when `b` would find `a`. Every pair of
    related records, not a sample: the one-sided kinds meet only in a few of them."""
    police = [keys_of(r) for r in related_records("police:1")]
    civil = [keys_of(r) for r in related_records("civil_affairs:1")]
    one_way = [(a, b) for a in police for b in civil
               if bool(a.lookup & b.stored) != bool(b.lookup & a.stored)]
    assert not one_way, one_way[:3]


def brute_near_valid_numbers(typed: str) -> set[str]:
    """Every checksum-valid number one deletion and one insertion away, by trying them all."""
    found = set()
    for i in range(len(typed)):
        rest = typed[:i] + typed[i + 1:]
        for j in range(len(rest) + 1):
            for char in ID_CHARS:
                near = rest[:j] + char + rest[j:]
                if near[:17].isdigit() and near[-1] == check_char(near[:17]):
                    found.add(near)
    return found


@given(st.text(alphabet="0123456789X", min_size=18, max_size=18))
def test_near_valid_numbers_are_exactly_the_checksum_valid_ones_a_deletion_away(typed: str
                                                                               ) -> None:
    assert near_valid_numbers(typed) == brute_near_valid_numbers(typed)


def moved(number: str, deleted: int, inserted: int, char: str) -> str:
    rest = number[:deleted] + number[deleted + 1:]
    return rest[:inserted] + char + rest[inserted:]


@given(id_numbers(), st.integers(0, 17), st.integers(0, 17), st.sampled_from(ID_CHARS))
def test_a_number_meets_any_invalid_number_a_deletion_and_an_insertion_away(
        number: str, deleted: int, inserted: int, char: str) -> None:
    typed = moved(number, deleted, inserted, char)
    assume(not (typed[:17].isdigit() and typed[-1] == check_char(typed[:17])))  # invalid
    original = record("police:1", id_number=number)
    other = record("civil_affairs:1", id_digits=typed)
    assert meet(original, other)  # meet() also checks it both ways
    assert meet(replace(original, id_suspect=True), other)


@given(id_numbers(), st.integers(0, 17), st.integers(0, 16), st.booleans())
def test_a_number_meets_a_valid_one_a_deletion_and_an_insertion_away_only_if_one_is_suspect(
        number: str, deleted: int, inserted: int, suspect: bool) -> None:
    valid = [t for t in (moved(number, deleted, inserted, c) for c in "0123456789")
             if t[-1] == check_char(t[:17]) and t != number]
    assume(valid)
    original = record("police:1", id_number=number)
    other = record("civil_affairs:1", id_number=valid[0], id_suspect=suspect)
    assert meet(original, other) == suspect
    assert meet(replace(original, id_suspect=True), other)


def test_a_record_without_identity_is_found_by_its_phone_only() -> None:
    keys = keys_of(record("civil_affairs:1", sex="M", phone="13900000000"))
    assert keys.stored == keys.lookup == {"ph:13900000000"}
    assert keys_of(record("civil_affairs:1", sex="M")).stored == set()


def test_a_sparse_record_meets_its_person_by_phone() -> None:
    """No number, no birth date, a name with a character left out: the phone finds it."""
    sparse = record("civil_affairs:1", name="李宁", sex="M", phone="13673808322")
    police = record("police:1", name="李宁涛", sex="M", birth="1987-11-07",
                    phone="13673808322", id_number=make_id(born="19871107"))
    assert keys_of(sparse).lookup & keys_of(police).stored == {"ph:13673808322"}


def test_homophone_names_born_the_same_year_share_a_blocking_key() -> None:
    a = event_record("GA1", name="王伟", birth_date="1956-03-12")
    b = event_record("MZ1", "civil_affairs", name="王玮", birth_date="1956-03",
                     id_number=None)
    assert "nb:wangwei|1956" in keys_of(a).stored & keys_of(b).lookup


# --- comparison levels through features_of -------------------------------------------------


@pytest.mark.parametrize(("first", "second", "level"), [
    ("1956-03-12", "1956-03-12", "exact"),
    ("1956-03", "1956-03-12", "compatible"),
    ("1956-03-12", "1956-03", "compatible"),
    ("1956", "1956-03-12", "compatible"),
    ("1956-03", "1956-03", "compatible"),  # equal, but neither gives the day
    ("1956-04", "1956-03-12", "year"),
    ("1956-03-13", "1956-03-12", "slip"),  # a day off
    ("1956-12-03", "1956-03-12", "slip"),  # month and day swapped
    ("1957-03-12", "1956-03-12", "slip"),  # a year off
    ("1956-08-21", "1956-03-12", "year"),
    ("1958-03-12", "1956-03-12", "slip"),  # one digit mistyped
    ("1962-03-12", "1956-03-12", "differ"),
    ("1957", "1956-03", "differ"),
    (None, "1956-03-12", None),
])
def test_birth_levels_of_partial_dates(first: str | None, second: str, level: str | None
                                       ) -> None:
    a = event_record("GA1", birth_date=first)
    b = event_record("MZ1", "civil_affairs", birth_date=second)
    assert comparison(a, b)["birth"] == level
    assert comparison(b, a)["birth"] == level


@pytest.mark.parametrize(("first", "second", "level"), [
    ("王伟", "王伟", "exact"),
    ("陳偉", "陈伟", "exact"),  # traditional characters are normalised first
    ("王 伟", "王伟", "exact"),  # stray space
    ("ＷＡＮＧ", "WANG", "exact"),  # full-width
    ("王伟", "王玮", "pinyin"),  # homophones
    ("江磊", "姜磊", "pinyin"),
    ("陳玮", "陈伟", "pinyin"),
    ("王建国", "王建华", "close"),  # one character differs
    ("刘德龙", "刘龙德", "close"),  # two characters swapped
    ("李宁涛", "李宁", "close"),  # one left out
    ("王伟", "王强", "differ"),  # in a two-character name, the whole given name
    ("王伟", "李强", "differ"),
    ("阿依古丽·买买提", "阿依古丽．买买提", "exact"),
    (None, "王伟", None),
])
def test_name_levels_after_normalisation(first: str | None, second: str, level: str | None
                                         ) -> None:
    a = event_record("GA1", name=first)
    b = event_record("MZ1", "civil_affairs", name=second)
    assert comparison(a, b)["name"] == level
    assert comparison(b, a)["name"] == level


def test_same_pinyin_is_not_exact_but_scores_as_a_homophone() -> None:
    a, b = event_record("GA1", name="王伟"), event_record("MZ1", "civil_affairs", name="王玮")
    assert a.name != b.name and a.pinyin == b.pinyin == "wangwei"


def test_id_levels_follow_trust() -> None:
    number, other = make_id(sequence=123), make_id(sequence=125)
    trusted = record("police:1", id_number=number)
    assert comparison(trusted, record("social_security:1", id_number=number))["id"] == "exact"
    assert comparison(trusted, record("social_security:1", id_number=other))["id"] == "differ"
    near = substitute(number, 3, "9" if number[3] != "9" else "8")
    assert comparison(trusted, record("civil_affairs:1", id_digits=near))["id"] == "near"
    far = "511999" + number[6:12] + "000000"
    assert comparison(trusted, record("civil_affairs:1", id_digits=far))["id"] == "differ"
    assert comparison(trusted, record("civil_affairs:1"))["id"] is None
    suspect = record("civil_affairs:1", id_number=number, id_suspect=True)
    assert comparison(trusted, suspect)["id"] is None


def test_missing_fields_have_no_level() -> None:
    levels = comparison(record("police:1"), record("civil_affairs:1", name="王伟", sex="M",
                                                   phone="13900000000", birth="1956"))
    assert levels == dict.fromkeys(("id", "name", "birth", "sex", "address", "phone",
                                    "spouse"))


def test_sex_phone_and_address_levels() -> None:
    home = parse_address("四川省雅安市天全县城厢镇太平村12组53号")
    same_home = parse_address("天全县太平村十二组53号")
    neighbour = parse_address("天全县城厢镇太平村12组54号")
    elsewhere = parse_address("芦山县北街村8组78号")
    a = record("police:1", sex="M", phone="13900000001", addresses=(home,))
    levels = comparison(a, record("x:1", sex="M", phone="13900000001", addresses=(same_home,)))
    assert levels == {"id": None, "name": None, "birth": None, "sex": "agree",
                      "address": "same", "phone": "agree", "spouse": None}
    levels = comparison(a, record("x:2", sex="F", phone="13900000002", addresses=(neighbour,)))
    assert (levels["sex"], levels["address"], levels["phone"]) == ("differ", "near", "differ")
    assert comparison(a, record("x:3", addresses=(elsewhere,)))["address"] == "differ"
    # the best of all address pairs counts
    b = record("x:4", addresses=(elsewhere, same_home))
    assert comparison(a, b)["address"] == "same"


# --- compare(): rules ----------------------------------------------------------------------


def test_shared_department_person_key_links_whatever_else_differs() -> None:
    a = record("police:2", person_key="police:R1", id_number=make_id(sequence=1),
               name="王伟", birth="1956-03-12", sex="M")
    b = record("police:1", person_key="police:R1", id_number=make_id(sequence=2),
               name="李娜", birth="1990-01-01", sex="F")
    edge = compare(a, b, bits_parameters())
    assert edge is not None
    assert (edge.a, edge.b, edge.rule, edge.agreed) == ("police:1", "police:2",
                                                         "department_key", ("person_key",))
    assert edge.score == math.inf and edge.links


def test_person_numbers_of_different_departments_never_collide() -> None:
    police = event_record("GA1", "police", person_key="5227303830")
    social = event_record("RS1", "social_security", person_key="5227303830")
    assert police.person_key != social.person_key
    edge = compare(police, social, bits_parameters())
    assert edge is None or edge.rule != "department_key"


def heavy_id_parameters() -> Parameters:
    """bits_parameters with an exact number as heavy as the data make it (2**16 to 1)."""
    parameters = bits_parameters()
    parameters.m["id"]["exact"] = 2.0 ** 16
    return parameters


@pytest.mark.parametrize("slip", [dict(sex="F"), dict(birth="1956-12-03"),
                                  dict(birth="1956-03-13"), dict(birth="1957-03-12")])
def test_a_number_with_agreeing_name_and_address_outweighs_one_slip(slip: dict[str, str]
                                                                     ) -> None:
    number, home = make_id(), (parse_address("天全县太平村12组53号"),)
    a = record("police:1", id_number=number, name="王伟", birth="1956-03-12", sex="M",
               addresses=home)
    b = record("civil_affairs:1", id_number=number, addresses=home,
               **{**dict(name="王伟", birth="1956-03-12", sex="M"), **slip})
    edge = compare(a, b, heavy_id_parameters())
    assert edge is not None and edge.rule == "id_number" and edge.links


def test_one_number_on_two_people_is_an_id_conflict_unless_the_number_outweighs() -> None:
    """A duplicate number: same birth date and sex (the number's), other name and address."""
    number = make_id()
    a = record("police:1", id_number=number, name="王伟", birth="1956-03-12", sex="M",
               addresses=(parse_address("天全县太平村12组53号"),), phone="13900000001")
    b = record("police:2", id_number=number, name="李强", birth="1956-03-12", sex="M",
               addresses=(parse_address("芦山县北街村8组78号"),), phone="13900000002")
    edge = compare(a, b, bits_parameters())  # 10 - 4 + 5 + 1 - 1 - 1 = 10 bits < 15
    assert edge is not None and edge.rule == "id_conflict" and not edge.links
    assert edge.score == pytest.approx(10)
    edge = compare(a, b, heavy_id_parameters())  # 16 bits: the number outweighs
    assert edge is not None and edge.rule == "id_number"


def test_same_number_with_name_birth_and_sex_all_disagreeing_is_an_id_conflict() -> None:
    number = make_id()
    a = record("civil_affairs:1", id_number=number, name="王伟", birth="1956-03-12", sex="M")
    b = record("police:1", id_number=number, name="李娜", birth="1988-09-10", sex="F")
    edge = compare(a, b, heavy_id_parameters())
    assert edge is not None
    assert (edge.a, edge.b, edge.rule) == ("civil_affairs:1", "police:1", "id_conflict")
    assert not edge.links


def test_a_relatives_number_flagged_suspect_is_ignored() -> None:
    """A wife's record carrying her husband's number: the number must not link them."""
    husband_number = make_id("511803", "19560312", 457)  # odd sequence: a man's number
    husband = event_record("GA1", "police", id_number=id_field(husband_number), name="王伟",
                           sex="M", birth_date="1956-03-12")
    wife = event_record("MZ1", "civil_affairs", id_number=id_field(husband_number),
                        name="李娜", sex="F", birth_date="1958-07")
    assert wife.id_suspect and wife.id_number == husband_number and not husband.id_suspect
    assert comparison(husband, wife)["id"] is None
    assert compare(husband, wife, bits_parameters()) is None


def test_a_suspect_number_does_not_block_a_probabilistic_link() -> None:
    number, other = make_id(sequence=457), make_id(sequence=458)
    fields = dict(name="王伟", birth="1956-03-12", sex="M", phone="13900000000")
    a = record("police:1", id_number=number, **fields)
    b = record("civil_affairs:1", id_number=other, id_suspect=True, **fields)
    edge = compare(a, b, bits_parameters())
    assert edge is not None and edge.rule == "probabilistic"
    assert edge.score == pytest.approx(4 + 5 + 1 + 6)
    assert edge.agreed == ("name", "birth", "sex", "phone")


def test_different_trusted_numbers_count_against_a_link() -> None:
    fields = dict(name="王伟", birth="1956-03-12", sex="M", phone="13900000000")
    a = record("police:1", id_number=make_id(sequence=457), **fields)
    b = record("civil_affairs:1", id_number=make_id(sequence=459), **fields)
    assert comparison(a, b)["id"] == "differ"
    assert compare(a, b, bits_parameters()) is None  # 4 + 5 + 1 + 6 - 10 = 6 bits
    without_numbers = compare(replace(a, id_number=None), b, bits_parameters())
    assert without_numbers is not None and without_numbers.rule == "probabilistic"


# --- compare(): thresholds -----------------------------------------------------------------


@pytest.mark.parametrize(("b_fields", "total", "rule"), [
    (dict(name="王伟", birth="1956-03-12", phone="13900000000"), 15.0, "probabilistic"),
    (dict(name="王伟", birth="1956-03-12", sex="M", phone="13900000000"), 16.0, "probabilistic"),
    (dict(name="王玮", birth="1956-03-12", sex="M", phone="13900000009"), 8.0, "review"),
    (dict(name="王伟", birth="1956-03-12", sex="M", phone="13900000009"), 9.0, "review"),
    (dict(name="王伟", birth="1956-03", phone="13900000009"), 6.0, None),
    (dict(name="王强", birth="1956-03-12", sex="M", phone="13900000009"), 6.0, None),
    (dict(name="王伟", birth="1956-03-12", sex="M"), 10.0, "review"),
    (dict(name="王伟", birth="1956-07", sex="M", phone="13900000000"), 11.0, "review"),
])
def test_score_against_the_link_and_review_thresholds(b_fields: dict[str, str], total: float,
                                                       rule: str | None) -> None:
    a = record("police:1", name="王伟", birth="1956-03-12", sex="M", phone="13900000000")
    b = record("civil_affairs:1", **b_fields)
    edge = compare(a, b, bits_parameters())
    if rule is None:
        assert edge is None
    else:
        assert edge is not None and edge.rule == rule and edge.score == pytest.approx(total)
        assert edge.links == (rule == "probabilistic")


def test_a_score_exactly_at_a_threshold_reaches_it() -> None:
    a = record("police:1", name="王伟", birth="1956-03-12")
    b = record("civil_affairs:1", name="王伟", birth="1956-03-12")  # 4 + 5 = 9 bits
    assert compare(a, b, bits_parameters(link=9.0, review=5.0)).rule == "probabilistic"
    assert compare(a, b, bits_parameters(link=9.5, review=9.0)).rule == "review"
    assert compare(a, b, bits_parameters(link=12.0, review=9.5)) is None


def test_a_civil_affairs_spelling_links_to_its_police_record_with_default_parameters() -> None:
    """Traditional characters, a birth month only and no ID number: still the same person."""
    parameters = Parameters.from_json(json.loads(DEFAULT_PARAMETERS.read_text()))
    address = "四川省雅安市天全县城厢镇太平村12组53号"
    police = event_record("GA1", "police", name="陈伟", birth_date="1956-03-12", sex="M",
                          id_number=id_field(make_id("511825", "19560312", 457)),
                          residence_address=address, hukou_address=address, phone=None)
    assert police.id_number and not police.id_suspect
    civil = event_record("MZ1", "civil_affairs", name="陳 偉", birth_date="1956-03", sex="M",
                         id_number=None, address="天全县城厢镇太平村十二组53号", phone=None)
    assert comparison(police, civil) == {"id": None, "name": "exact", "birth": "compatible",
                                         "sex": "agree", "address": "same", "phone": None,
                                         "spouse": None}
    edge = compare(police, civil, parameters)
    assert edge is not None and edge.rule == "probabilistic"
    assert edge.score >= parameters.link


# --- compare(): properties -----------------------------------------------------------------

NUMBERS = (make_id(sequence=457), make_id(sequence=458))


@st.composite
def random_records(draw: st.DrawFn, ref: str) -> RecordFeatures:
    number = draw(st.sampled_from((None, *NUMBERS)))
    digits = None if number else draw(st.sampled_from(
        (None, swap(NUMBERS[0], 3), substitute(NUMBERS[1], 9, "0"), "51180219560312")))
    return record(
        ref,
        person_key=draw(st.sampled_from((None, "police:R1", "police:R2"))),
        id_number=number,
        id_digits=digits,
        id_suspect=bool(number) and draw(st.booleans()),
        name=draw(st.sampled_from((None, "王伟", "王玮", "王强", "李娜"))),
        birth=draw(st.sampled_from((None, "1956", "1956-03", "1956-03-12", "1956-04-02",
                                    "1957-03-12"))),
        sex=draw(st.sampled_from((None, "M", "F"))),
        phone=draw(st.sampled_from((None, "13900000001", "13900000002"))),
        addresses=draw(st.sampled_from(((), (parse_address("天全县太平村12组53号"),),
                                        (parse_address("芦山县北街村8组78号"),)))),
    )


@given(random_records("police:1"))
def test_stored_keys_are_keys_of_without_the_lookup_side(r: RecordFeatures) -> None:
    """The merge indexes the records it looks in by `stored_keys`, and stores `keys_of`."""
    assert stored_keys(r) == keys_of(r).stored


@given(random_records("police:1"), random_records("civil_affairs:1"))
def test_compare_is_symmetric(a: RecordFeatures, b: RecordFeatures) -> None:
    parameters = bits_parameters()
    assert compare(a, b, parameters) == compare(b, a, parameters)
    assert comparison(a, b) == comparison(b, a)


@given(random_records("police:1"), random_records("civil_affairs:1"))
def test_compare_follows_the_rule_layers(a: RecordFeatures, b: RecordFeatures) -> None:
    parameters = bits_parameters()
    levels = comparison(a, b)
    for field, level in levels.items():
        assert level is None or level in LEVELS[field]
    total = sum(BITS[f][lv] for f, lv in levels.items() if lv is not None)
    trusted = [None if r.id_suspect else r.id_number for r in (a, b)]
    same_number = trusted[0] is not None and trusted[0] == trusted[1]
    assert (levels["id"] == "exact") == same_number
    edge = compare(a, b, parameters)
    if a.person_key and a.person_key == b.person_key:
        expected = "department_key"
    elif same_number:
        expected = "id_number" if total >= parameters.link else "id_conflict"
    elif total >= parameters.link:
        expected = "probabilistic"
    elif total >= parameters.review:
        expected = "review"
    else:
        expected = None
    assert (edge and edge.rule) == expected
    if edge is not None:
        assert (edge.a, edge.b) == ("civil_affairs:1", "police:1")
        if edge.rule != "department_key":
            assert edge.score == pytest.approx(total)
            assert edge.agreed == tuple(f for f, lv in levels.items()
                                        if lv in ("exact", "agree", "same"))


def test_a_nameless_record_meets_the_named_born_that_day_in_its_community() -> None:
    """A birth certificate before the child is named, and the police's birth registration."""
    home = (parse_address("雨城区东城街道双河社区人民路1号"),)
    elsewhere = (parse_address("名山区百丈镇南街社区幸福路2号"),)
    nameless = record("health:O1", birth="2021-03-19", sex="F", addresses=home)
    named = record("police:GA1", name="李怡福", birth="2021-03-19", sex="F", addresses=home)
    assert meet(nameless, named)
    assert not meet(nameless, replace(named, birth="2021-03-20"))
    assert not meet(nameless, replace(named, addresses=elsewhere))
    assert not meet(nameless, replace(nameless, ref="health:O2"))  # two nameless: no name key
    other_named = record("police:GA2", name="王芳", birth="2021-03-19", addresses=home)
    assert not meet(named, other_named)  # named records meet by their names, not this key


# --- a relative's number, recognised from the record's own evidence -----------------------

MAN_1956 = make_id("511803", "19560312", 457)


@pytest.mark.parametrize(("parsed", "someone_elses"), [
    (dict(sex="M", birth_date="1956-03-12"), False),
    (dict(sex="F", birth_date="1956-03-12"), False),  # the wrong sex ticked: a slip
    (dict(sex="M", birth_date="1956-12-03"), False),  # month and day swapped
    (dict(sex="M", birth_date="1956-03-11"), False),  # a day off
    (dict(sex="M", birth_date="1957-03-12"), False),  # a year off
    (dict(sex="F", birth_date="1956-03-11"), True),  # two fields contradict it
    (dict(sex="M", birth_date="1960-07-01"), True),  # beyond a slip
    (dict(sex="F", birth_date="1958-07"), True),  # a partial date against the number's
    (dict(sex="M", birth_date="1956-03"), False),
    (dict(sex="M", birth_date="1956-03-12", named=True), True),  # given as the spouse's
])
def test_a_number_is_someone_elses_only_beyond_one_slip(parsed: dict[str, Any],
                                                         someone_elses: bool) -> None:
    named = frozenset({MAN_1956}) if parsed.pop("named", False) else frozenset()
    assert number_contradicts_record(MAN_1956, parsed, named) == someone_elses


def test_the_shipped_parameters_are_estimated_from_the_five_department_sample() -> None:
    """The processor's parameters until `sanwang estimate` runs: reproducible from the fixture
    (write them again with `json.dumps(p.to_json(), indent=1, sort_keys=True)`), so a new
    comparison level is never missing from them."""
    estimated = estimate_parameters([features_of(e) for e in sample5_events()]).to_json()
    assert json.loads(DEFAULT_PARAMETERS.read_text()) == json.loads(json.dumps(estimated))
