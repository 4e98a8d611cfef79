"""The field parsers' shortcuts (what the backfill's rate needed) answer as the long way does."""

import re
from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from connectors.fields import (
    MAX_YEAR,
    MIN_YEAR,
    FieldError,
    IdNumber,
    _valid_18,
    check_text,
    parse_id_number,
)

# CJK, Latin-1 and cp1252's letters (mojibake is made of them), full-width digits, controls
mixed_text = st.text(st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x2200),
    st.sampled_from("张三雨城区０１２３Ｘｘ\u3000\u2122\u20ac\u0152\u2028\ufeff`'- ")), max_size=24)
id_like = st.text(st.sampled_from("0123456789Xx０１２３ Ｘ-`\u3000"), max_size=20)


def check_text_the_long_way(text: str) -> str:
    """check_text before its shortcut: both codecs tried on all non-ASCII text."""
    from connectors.fields import _INVISIBLE

    bad = _INVISIBLE.search(text)
    if bad is not None:
        raise FieldError("control")
    if not text.isascii():
        for codec in ("cp1252", "latin-1"):
            try:
                if text.encode(codec).decode("utf-8") != text:
                    raise FieldError("mojibake")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    return text


def outcome(check, text: str) -> str | type:
    try:
        return check(text)
    except FieldError as error:
        return type(error)


@settings(max_examples=3000)
@given(text=mixed_text)
@example(text="å¼ ä¸‰")  # 张三 read as cp1252
@example(text="Ã©")  # é read as Latin-1
@example(text="Ã©张")  # and a character no code page has
def test_check_text_refuses_and_keeps_what_the_long_way_does(text: str) -> None:
    assert outcome(check_text, text) == outcome(check_text_the_long_way, text)


def _valid_18_the_long_way(number: str) -> bool:
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number) or ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        born = ric.get_birth_date(number)
    except ValueError:
        return False
    return MIN_YEAR <= born.year <= MAX_YEAR


def parse_id_number_the_long_way(text: str) -> IdNumber | None:
    """parse_id_number before its shortcut: stdnum compacts every number."""
    from connectors.fields import _clean

    clean = _clean(text)
    if clean is None:
        return None
    number = "".join(ric.compact(clean).split())
    if re.fullmatch(r"[0-9]{15}", number):
        number17 = number[:6] + "19" + number[6:]
        number = number17 + ric.calc_check_digit(number17 + "0")
    return IdNumber(text, number if _valid_18_the_long_way(number) else None)


def with_check_digit(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


valid_numbers = st.builds(
    lambda region, born, serial: with_check_digit(f"{region}{born:%Y%m%d}{serial:03d}"),
    st.sampled_from(["511802", "511825", "110101"]),
    st.dates(date(1870, 1, 1), date(2110, 12, 31)), st.integers(0, 999))


@settings(max_examples=3000)
@given(text=st.one_of(id_like, mixed_text, valid_numbers, valid_numbers.map(str.lower),
                      valid_numbers.map(lambda n: f" {n[:6]} {n[6:]}"),
                      valid_numbers.map(lambda n: n[:6] + n[8:17])))  # 15-digit legacy form
@example(text="51182519561211190x")
@example(text="511825195613111903")  # month 13
def test_id_numbers_read_as_the_long_way_reads_them(text: str) -> None:
    assert parse_id_number(text) == parse_id_number_the_long_way(text)


@given(number=valid_numbers)
def test_validity_is_the_long_ways(number: str) -> None:
    assert _valid_18(number) == _valid_18_the_long_way(number)
