"""Tests for connectors.fields: examples from the departments' sample files, plus properties.

Every ID number generated here is synthetic (region code + date + sequence + computed check).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.fields import (
    FieldError,
    IdNumber,
    PartialDate,
    id_birth_date,
    id_sex,
    parse_date,
    parse_id_number,
    parse_phone,
    parse_sex,
    parse_timestamp,
)

PARSERS = [parse_date, parse_sex, parse_id_number, parse_phone, parse_timestamp]
WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def check_char(first17: str) -> str:
    """Reference ISO 7064 MOD 11-2, written independently of the module under test."""
    value = (12 - sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11) % 11
    return "X" if value == 10 else str(value)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


regions = st.sampled_from(["511802", "511803", "511822", "511825", "500105", "513401", "530102"])
birth_dates = st.dates(date(1900, 1, 1), date(2025, 12, 31))
sequences = st.integers(0, 999).map(lambda n: f"{n:03d}")


@st.composite
def id18(draw) -> str:
    first17 = draw(regions) + draw(birth_dates).strftime("%Y%m%d") + draw(sequences)
    return first17 + check_char(first17)


@st.composite
def partial_dates(draw) -> PartialDate:
    d = draw(st.dates(date(1880, 1, 1), date(2100, 12, 31)))
    precision = draw(st.sampled_from(["year", "month", "day"]))
    if precision == "year":
        return PartialDate(d.year, None, None)
    return PartialDate(d.year, d.month, d.day if precision == "day" else None)


# ---------------------------------------------------------------- blanks


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n", "\u3000"])
def test_blank_is_none(parser, blank):
    assert parser(blank) is None


@pytest.mark.parametrize("parser", PARSERS)
def test_non_text_raises_field_error(parser):
    with pytest.raises(FieldError):
        parser(13972094526)


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text, expected",
    [
        ("19770304", PartialDate(1977, 3, 4)),  # police 出生日期
        ("1956-12-11", PartialDate(1956, 12, 11)),  # police 出生日期
        ("20150222", PartialDate(2015, 2, 22)),  # police 变动日期
        ("1981年11月", PartialDate(1981, 11, None)),  # civil 出生年月, month precision
        ("1965年9月13日", PartialDate(1965, 9, 13)),  # civil 出生年月
        ("1958-08-11", PartialDate(1958, 8, 11)),  # civil 出生年月
        ("2019年7月9日", PartialDate(2019, 7, 9)),  # civil 办理日期
        ("2025/7/14", PartialDate(2025, 7, 14)),  # civil 办理日期
        ("2024/12/30", PartialDate(2024, 12, 30)),  # civil 办理日期
        ("20061117", PartialDate(2006, 11, 17)),  # social aac006
        ("1997-10-19", PartialDate(1997, 10, 19)),  # social aac006
        ("1956-03", PartialDate(1956, 3, None)),
        ("1956年", PartialDate(1956, None, None)),
        ("  1956年3月12日 ", PartialDate(1956, 3, 12)),
        ("１９５６年３月", PartialDate(1956, 3, None)),
        ("２０２５/７/１４", PartialDate(2025, 7, 14)),
        ("2024-02-29", PartialDate(2024, 2, 29)),
    ],
)
def test_parse_date_accepts(text, expected):
    assert parse_date(text) == expected


def test_month_precision_is_not_the_first():
    parsed = parse_date("1956年3月")
    assert parsed is not None
    assert parsed.day is None
    assert parsed.iso() == "1956-03"
    assert parsed != PartialDate(1956, 3, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("2019-02-30", "impossible date '2019-02-30'"),
        ("2019-13-01", "impossible date '2019-13-01'"),
        ("20190230", "impossible date '20190230'"),
        ("2023年2月29日", "impossible date '2023年2月29日'"),
        ("2019年13月", "impossible date '2019年13月'"),
        ("2019-00", "impossible date '2019-00'"),
        ("2019/4/31", "impossible date '2019/4/31'"),
        ("1879-12-31", "impossible date '1879-12-31'"),
        ("2101年", "impossible date '2101年'"),
        ("00000000", "impossible date '00000000'"),
        ("1956", "unrecognised date format '1956'"),
        ("1956-3/12", "unrecognised date format '1956-3/12'"),
        ("1956年3月12", "unrecognised date format '1956年3月12'"),
        ("56-03-12", "unrecognised date format '56-03-12'"),
        ("195603", "unrecognised date format '195603'"),
        ("not a date", "unrecognised date format 'not a date'"),
        ("2019-02-03T10:00", "unrecognised date format '2019-02-03T10:00'"),
    ],
)
def test_parse_date_rejects(text, message):
    with pytest.raises(FieldError) as caught:
        parse_date(text)
    assert str(caught.value) == message


def test_partial_date_refuses_impossible_values():
    for args in [(1956, 2, 30), (1956, None, 3), (1956, 0, None), (3000, None, None)]:
        with pytest.raises(FieldError):
            PartialDate(*args)


@pytest.mark.parametrize(
    "value, iso",
    [
        (PartialDate(1956, None, None), "1956"),
        (PartialDate(1956, 3, None), "1956-03"),
        (PartialDate(1956, 3, 12), "1956-03-12"),
    ],
)
def test_iso(value, iso):
    assert value.iso() == iso
    assert PartialDate.from_iso(iso) == value


@pytest.mark.parametrize("text", ["1956年", "1956-3", "1956-03-1", "19560312", "1956-02-30", ""])
def test_from_iso_is_strict(text):
    with pytest.raises(FieldError):
        PartialDate.from_iso(text)


@given(partial_dates())
def test_iso_round_trips(value):
    assert PartialDate.from_iso(value.iso()) == value
    if value.month is not None:
        assert parse_date(value.iso()) == value


@given(st.dates(date(1880, 1, 1), date(2100, 12, 31)), st.sampled_from(["", " ", "\u3000"]))
def test_all_spellings_of_a_day_agree(d, pad):
    y, m, dd = d.year, d.month, d.day
    spellings = [
        f"{y:04d}{m:02d}{dd:02d}",
        f"{y:04d}-{m:02d}-{dd:02d}",
        f"{y}/{m}/{dd}",
        f"{y:04d}/{m:02d}/{dd:02d}",
        f"{y}年{m}月{dd}日",
        f"{y}年{m:02d}月{dd:02d}日",
    ]
    spellings += [fullwidth(s) for s in spellings]
    parsed = {parse_date(pad + s + pad) for s in spellings}
    assert parsed == {PartialDate(y, m, dd)}


@given(st.integers(1880, 2100), st.integers(1, 12))
def test_all_spellings_of_a_month_and_year_agree(y, m):
    assert {parse_date(s) for s in [f"{y}年{m}月", f"{y}-{m:02d}", f"{y}/{m}"]} == {
        PartialDate(y, m, None)
    }
    assert parse_date(f"{y}年") == PartialDate(y, None, None)


# ---------------------------------------------------------------- sex


@pytest.mark.parametrize(
    "text, expected",
    [("男", "M"), ("女", "F"), ("1", "M"), ("2", "F"), ("男性", "M"), ("女性", "F"), (" 女 ", "F")],
)
def test_parse_sex_accepts(text, expected):
    assert parse_sex(text) == expected


@pytest.mark.parametrize("text", ["0", "9", "3", "M", "F", "male", "男女", "未知"])
def test_parse_sex_rejects(text):
    with pytest.raises(FieldError, match=repr(text)):
        parse_sex(text)


# ---------------------------------------------------------------- ID numbers


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("511825195612111903", "511825195612111903"),  # police
        ("51182520080711450x", "51182520080711450X"),  # police, lower-case x
        ("51182320210329078X", "51182320210329078X"),
        ("511825801030874", "511825198010308745"),  # police, legacy 15 digits
        ("511823841122072", "511823198411220725"),  # police, legacy 15 digits
        (" 5118 2520 0807 11450x ", "51182520080711450X"),
        ("５１１８２５２００８０７１１４５０ｘ", "51182520080711450X"),
        ("511822200611174069", "511822200611174069"),  # social aac002
    ],
)
def test_parse_id_number_valid(text, normalized):
    parsed = parse_id_number(text)
    assert parsed == IdNumber(text, normalized)
    assert parsed is not None and parsed.valid


@pytest.mark.parametrize(
    "text",
    [
        "511803198038160771",  # civil: month 38, mistyped
        "511803196804255636",  # civil: one digit wrong
        "511823199715063189",  # civil: two digits swapped
        "51182791620508444X",  # social: digits swapped into the date
        "511802191911081930",  # police
        "5118251956121119",  # too short
        "5118251956121119030",  # too long
        "51182519561211190Y",
        "abc",
        "身份证",
        "511825901330874",  # 15 digits, impossible date
    ],
)
def test_parse_id_number_invalid_is_not_an_error(text):
    parsed = parse_id_number(text)
    assert parsed == IdNumber(text, None)
    assert parsed is not None and not parsed.valid


def test_id_birth_date_and_sex():
    assert id_birth_date("511825195612111903") == PartialDate(1956, 12, 11)
    assert id_sex("511825195612111903") == "F"
    assert id_sex("511803200205291295") == "M"
    assert id_birth_date("51182520080711450X") == PartialDate(2008, 7, 11)


@given(id18())
def test_generated_numbers_are_valid(number):
    parsed = parse_id_number(number)
    assert parsed == IdNumber(number, number)
    assert id_birth_date(number).iso() == f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    assert id_sex(number) == ("M" if int(number[14:17]) % 2 else "F")
    if number.endswith("X"):
        assert parse_id_number(number.lower()) == IdNumber(number.lower(), number)


@given(id18(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_a_single_changed_character_is_caught(number, position, char):
    changed = number[:position] + char + number[position + 1 :]
    parsed = parse_id_number(changed)
    assert parsed is not None
    assert parsed.normalized == (number if changed == number else None)


@given(id18(), st.integers(0, 16))
def test_two_swapped_neighbours_are_caught(number, position):
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    parsed = parse_id_number(swapped)
    assert parsed is not None
    assert parsed.normalized == (number if swapped == number else None)


@given(regions, st.dates(date(1900, 1, 1), date(1999, 12, 31)), sequences)
def test_legacy_15_digits_convert(region, born, sequence):
    legacy = region + born.strftime("%y%m%d") + sequence
    parsed = parse_id_number(legacy)
    assert parsed is not None and parsed.valid and parsed.normalized is not None
    first17 = region + born.strftime("%Y%m%d") + sequence
    assert parsed.normalized == first17 + check_char(first17)
    assert id_birth_date(parsed.normalized) == PartialDate(born.year, born.month, born.day)
    assert id_sex(parsed.normalized) == ("M" if int(sequence) % 2 else "F")


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13972094526", "13972094526"),  # police 联系电话
        ("19493959314", "19493959314"),  # civil 联系方式
        ("15096412909", "15096412909"),  # social phone
        ("139 7209 4526", "13972094526"),
        ("139-7209-4526", "13972094526"),
        ("+86 139 7209 4526", "13972094526"),
        ("+8613972094526", "13972094526"),
        ("0086-13972094526", "13972094526"),
        ("0835-2222333", "08352222333"),
        ("(0835) 2222333", "08352222333"),
        ("+86 835 2222333", "08352222333"),
        ("2222333", "2222333"),
        ("１３９７２０９４５２６", "13972094526"),
    ],
)
def test_parse_phone_accepts(text, expected):
    assert parse_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "139720945ab",
        "tel 13972094526",
        "12345",
        "222333",
        "1397209452",  # mobile with 10 digits
        "139720945266",  # mobile with 12 digits
        "+1 555 222 3333",
        "0835-2222333-801",
        "+86",
        "13972094526 / 13357236366",
    ],
)
def test_parse_phone_rejects(text):
    with pytest.raises(FieldError, match=repr(text).replace("+", r"\+").replace("(", r"\(")):
        parse_phone(text)


# ---------------------------------------------------------------- timestamps


def test_parse_timestamp_accepts_social_security_occurred():
    parsed = parse_timestamp("2024-11-12T16:01:00+08:00")
    assert parsed == datetime(2024, 11, 12, 16, 1, tzinfo=timezone(timedelta(hours=8)))
    assert parsed.utcoffset() == timedelta(hours=8)
    assert parse_timestamp("2024-11-12T08:01:00Z") == parsed


@pytest.mark.parametrize(
    "text, message",
    [
        ("2024-11-12T16:01:00", "timestamp without UTC offset '2024-11-12T16:01:00'"),
        ("2024-11-12", "timestamp without UTC offset '2024-11-12'"),
        ("2024-11-12T25:01:00+08:00", "not an ISO 8601 timestamp '2024-11-12T25:01:00+08:00'"),
        ("2024年11月12日 16:01", "not an ISO 8601 timestamp '2024年11月12日 16:01'"),
        ("yesterday", "not an ISO 8601 timestamp 'yesterday'"),
    ],
)
def test_parse_timestamp_rejects(text, message):
    with pytest.raises(FieldError) as caught:
        parse_timestamp(text)
    assert str(caught.value) == message


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize("parser", PARSERS)
@given(text=st.text())
def test_parsers_only_raise_field_error(parser, text):
    try:
        parser(text)
    except FieldError:
        pass


@given(st.text())
def test_parse_id_number_never_raises(text):
    parsed = parse_id_number(text)
    assert parsed is None or parsed.original == text
