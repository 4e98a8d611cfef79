"""Tests for streams.normalize and streams.normalize_address: sample spellings, plus properties.

The grid measurement reads the sample city: the latest police 现住址 of every living person must
land in the grid persons.csv gives (>= 99%), and no address may ever land in a wrong grid.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import defaultdict
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.fields import parse_date
from streams.grids import read_grids_csv
from streams.normalize import (
    clean_text,
    name_key,
    name_pinyin,
    normalize_name,
    parse_numeral,
    to_chinese_numeral,
)
from streams.normalize_address import (
    OUTSIDE,
    Address,
    Gazetteer,
    assign_grid,
    community_of,
    normalize_address,
    parse_address,
    same_place,
)
from tests.samples import SAMPLE


def read_csv(name: str, encoding: str = "utf-8") -> list[dict[str, str]]:
    with open(SAMPLE / name, encoding=encoding, newline="") as f:
        return list(csv.DictReader(f))


@cache
def gazetteer() -> Gazetteer:
    return Gazetteer.from_rows(read_csv("grids.csv"))


@cache
def police_rows() -> tuple[dict[str, str], ...]:
    return tuple(read_csv("police_population.csv", "gb18030"))


@cache
def sample_names_and_addresses() -> tuple[list[tuple[str, str]], list[str]]:
    """(person, name) of every record in the three sources, and every address they hold."""
    truth = {(r["source"], r["record_id"]): r["person"] for r in read_csv("truth.csv")}
    names, addresses = [], []
    for r in police_rows():
        names.append((truth["police", r["变动流水号"]], r["姓名"]))
        addresses += [r["户籍地址"], r["现住址"]]
    for r in read_csv("civil_affairs.csv", "utf-8-sig"):
        names.append((truth["civil_affairs", r["业务流水号"]], r["姓名"]))
        addresses.append(r["家庭住址"])
    for line in (SAMPLE / "social_security.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        names.append((truth["social_security", record["serial"]], record["aac003"]))
        addresses.append(record["address"] or "")
    return names, [a for a in addresses if a]


# ---- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("杜 杰怡", "杜杰怡"),  # stray space (civil affairs)
        ("拉 姆卓玛", "拉姆卓玛"),
        ("趙霞欣", "赵霞欣"),  # traditional
        ("陳　偉 ", "陈伟"),  # ideographic space
        ("\u200b曾霞萱\ufeff", "曾霞萱"),  # invisible characters
        ("ＡＢＣ李", "ABC李"),  # full-width letters
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽．买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽‧买买提", "阿依古丽·买买提"),
        ("阿依古丽∙买买提", "阿依古丽·买买提"),
        ("阿依古丽 · · 买买提·", "阿依古丽·买买提"),
        (None, None),
        ("", None),
        (" \u3000", None),
    ],
)
def test_normalize_name_examples(raw: str | None, expected: str | None) -> None:
    assert normalize_name(raw) == expected


INVISIBLE_OR_NOT = st.text(st.characters(codec="utf-8") | st.sampled_from(
    " \t\n\x85\xa0\u1680\u2000\u200b\u2028\u202f\u3000\ufeff\u00ad\U000e0001曾霞"))


@given(INVISIBLE_OR_NOT)
def test_clean_text_drops_every_space_and_invisible_character_and_keeps_the_rest(
        text: str) -> None:
    """Whitespace and format/control characters go (the text most often given skips the look
    at each character: streams/normalize.py); a cleaned text is clean."""
    cleaned = clean_text(text)
    assert not any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in cleaned)
    assert clean_text(cleaned) == cleaned
    visible = "".join(c for c in text if not c.isspace()
                      and unicodedata.category(c) not in ("Cc", "Cf"))
    assert clean_text(visible) == cleaned


def test_every_person_has_one_name_key_across_the_three_departments() -> None:
    names, _ = sample_names_and_addresses()
    keys: dict[str, set[str | None]] = defaultdict(set)
    for person, name in names:
        keys[person].add(name_key(name))
    assert all(len(k) == 1 and None not in k for k in keys.values())


@pytest.mark.parametrize(
    ("name", "pinyin"),
    [
        ("单雄信", "shanxiongxin"),
        ("曾霞萱", "zengxiaxuan"),
        ("解缙", "xiejin"),
        ("仇英", "qiuying"),
        ("查良镛", "zhaliangyong"),
        ("朴槿", "piaojin"),
        ("区志坚", "ouzhijian"),
        ("尉迟恭", "yuchigong"),
        ("长孙无忌", "zhangsunwuji"),
        ("万俟卨", "moqixie"),
        ("趙霞欣", "zhaoxiaxin"),
        ("吕 伟", "lvwei"),
        ("卓玛·次仁", "zhuomaciren"),
        ("沙马木呷", "shamamuga"),
    ],
)
def test_name_pinyin_reads_surnames_as_surnames(name: str, pinyin: str) -> None:
    assert name_pinyin(name) == pinyin


def test_homophones_share_pinyin_and_key() -> None:
    assert name_pinyin("张伟") == name_pinyin("张玮") == name_pinyin("張 瑋") == "zhangwei"
    assert name_key("张伟") == name_key("张玮")
    assert name_key(None) is None and name_key(" ") is None and name_pinyin(None) == ""


name_chars = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from("·•．")


@given(st.text())
def test_normalize_name_is_idempotent(text: str) -> None:
    once = normalize_name(text)
    assert normalize_name(once) == once


@given(st.text(name_chars, min_size=1, max_size=6), st.data())
def test_spaces_anywhere_do_not_change_a_name(name: str, data: st.DataObject) -> None:
    spaced = "".join(
        data.draw(st.sampled_from(["", " ", "\u3000", "\t", "  "])) + c for c in name
    ) + data.draw(st.sampled_from(["", " ", "\u3000"]))
    assert normalize_name(spaced) == normalize_name(name)
    assert name_key(spaced) == name_key(name)


# ---- numerals ----------------------------------------------------------------------------------


@given(st.integers(1, 99))
def test_chinese_numerals_round_trip(number: int) -> None:
    assert parse_numeral(to_chinese_numeral(number)) == number
    assert parse_numeral(str(number)) == number


@pytest.mark.parametrize(
    ("text", "number"),
    [("三", 3), ("十", 10), ("十二", 12), ("一十二", 12), ("二十", 20), ("九十九", 99),
     ("两", 2), ("一二", 12), ("一百零五", 105), ("〇", 0), ("12", 12)],
)  # fmt: skip
def test_parse_numeral_examples(text: str, number: int) -> None:
    assert parse_numeral(text) == number


def test_to_chinese_numeral_examples() -> None:
    assert [to_chinese_numeral(n) for n in (3, 10, 12, 20, 99, 105, 110)] == [
        "三",
        "十",
        "十二",
        "二十",
        "九十九",
        "一百零五",
        "一百一十",
    ]
    with pytest.raises(ValueError):
        to_chinese_numeral(1000)


@pytest.mark.parametrize("text", ["", "十百", "三组", "x"])
def test_parse_numeral_refuses_non_numerals(text: str) -> None:
    assert parse_numeral(text) is None


# ---- addresses ---------------------------------------------------------------------------------

VILLAGE = Address("天全县", "城厢镇", "太平村", 12, None, "53", "")
FLAT = Address("荥经县", "严道街道", "南街社区", None, "雅州大道", "73", "7栋3单元1402室")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("四川省雅安市天全县城厢镇太平村12组53号", VILLAGE),
        ("雅安市天全县城厢镇太平村十二组53号", VILLAGE),
        ("天全县城厢镇太平村12组53号", VILLAGE),
        ("天全县太平村12组53号", VILLAGE),  # township filled from the gazetteer
        ("天全縣城厢鎮太平村 １２組 ５３號", VILLAGE),  # traditional, full-width, spaces
        ("四川省雅安市荥经县严道街道南街社区雅州大道73号7栋3单元1402室", FLAT),
        ("雅安市荥经县严道街道南街社区雅州大道73号7栋3单元1402室", FLAT),
        ("荥经县南街社区雅州大道73号七栋三单元1402", FLAT),
        ("四川雅安荥经县严道街道办事处南街社区居委会雅州大道73号7幢3单元1402室", FLAT),
        (
            "名山区丰收村6组46号",
            Address("名山区", "新店镇", "丰收村", 6, None, "46", ""),
        ),
        (
            "名山县新店镇丰收村三组46号",  # the county before 2012
            Address("名山区", "新店镇", "丰收村", 3, None, "46", ""),
        ),
    ],
)
def test_normalize_address_examples(raw: str, expected: Address) -> None:
    assert normalize_address(raw, gazetteer()) == expected


def test_ambiguous_community_keeps_its_township_unknown() -> None:
    # 东街村 is a village of both 上里镇 and 草坝镇 (雨城区): never pick one
    address = normalize_address("雨城区东街村2组39号", gazetteer())
    assert address == Address("雨城区", None, "东街村", 2, None, "39", "")
    assert assign_grid(address, gazetteer()) is None
    full = normalize_address("四川省雅安市雨城区草坝镇东街村2组39号", gazetteer())
    settled = normalize_address("雨城区东街村2组39号", gazetteer(), spellings=[full])
    assert settled == full and assign_grid(settled, gazetteer()) == "51180200600201"
    other = normalize_address("雨城区草坝镇东街村2组40号", gazetteer())
    assert normalize_address("雨城区东街村2组39号", gazetteer(), [other]) == address


def test_parse_address_without_gazetteer_and_odd_input() -> None:
    assert parse_address(None) is None and parse_address(" ") is None
    assert parse_address("康乐路12号") == Address(street="康乐路", house_number="12")
    assert parse_address("雨城区新村社区新村路5号") == Address(
        "雨城区", None, "新村社区", None, "新村路", "5", ""
    )
    outside = parse_address("成都市武侯区玉林街道玉林社区1号")
    assert outside == Address(rest="成都市武侯区玉林街道玉林社区1号")
    assert assign_grid(outside, gazetteer()) is None


def test_every_sample_address_parses_to_a_dwelling() -> None:
    _, addresses = sample_names_and_addresses()
    for text in addresses:
        a = normalize_address(text, gazetteer())
        assert a is not None and a.district and a.community and a.house_number, text
        assert (a.group is None) != (a.street is None), text
        assert a.rest == "" or a.rest.endswith("室"), text
        bare = re.sub("^(四川省)?(雅安市)?", "", text)
        for spelling in (bare, "雅安市" + bare, "四川省雅安市" + bare):
            assert parse_address(spelling) == parse_address(text), spelling


def spellings_of(grid: dict[str, str], draw: st.DrawFn) -> tuple[str, str, str]:
    """Two short spellings of a dwelling in the grid (prefix, township, numerals drawn), a full."""
    kind, _, value = grid["覆盖范围"].partition(":")
    number = draw(st.integers(1, 200))
    if kind == "组":
        low, _, high = value.partition("-")
        group = draw(st.integers(int(low), int(high)))
        tails = [f"{group}组{number}号", f"{to_chinese_numeral(group)}组{number}号"]
    else:
        street = draw(st.sampled_from(value.split("|")))
        tails = [f"{street}{number}号7栋3单元1402室"] * 2
    texts = []
    for tail in tails:
        prefix = draw(st.sampled_from(["", "四川省", "雅安市", "四川省雅安市"]))
        township = draw(st.sampled_from(["", grid["乡镇街道"]]))
        texts.append(prefix + grid["区县"] + township + grid["村社区"] + tail)
    full = "四川省雅安市" + grid["区县"] + grid["乡镇街道"] + grid["村社区"] + tails[0]
    return texts[0], texts[1], full


@given(st.data())
def test_key_ignores_prefix_township_and_numeral_style(data: st.DataObject) -> None:
    g = gazetteer()
    grid = data.draw(st.sampled_from(read_csv("grids.csv")))
    first, second, full = spellings_of(grid, data.draw)
    a, b = normalize_address(first, g), normalize_address(second, g)
    assert a is not None and b is not None
    assert a.key() == b.key() and same_place(a, b) == 1.0
    assert {assign_grid(a, g), assign_grid(b, g)} <= {grid["网格编码"], None}  # never wrong
    known = normalize_address(full, g)
    assert known is not None and assign_grid(known, g) == grid["网格编码"]
    assert assign_grid(normalize_address(first, g, [known]), g) == grid["网格编码"]


def test_same_place_scores() -> None:
    flat = normalize_address("荥经县南街社区雅州大道73号7栋3单元1402室", gazetteer())
    assert same_place(flat, FLAT) == 1.0
    assert same_place(flat, normalize_address("荥经县南街社区雅州大道73号", gazetteer())) == 0.9
    other_flat = normalize_address("荥经县南街社区雅州大道73号7栋3单元101室", gazetteer())
    assert same_place(flat, other_flat) == 0.7
    assert same_place(flat, normalize_address("荥经县南街社区雅州大道5号", gazetteer())) == 0.5
    assert same_place(flat, normalize_address("荥经县严道街道", gazetteer())) == 0.3
    assert same_place(flat, normalize_address("荥经县南街社区幸福路73号", gazetteer())) == 0.0
    assert same_place(VILLAGE, FLAT) == 0.0 and same_place(VILLAGE, None) == 0.0


# ---- grids -------------------------------------------------------------------------------------


def test_assign_grid_by_group_and_by_street() -> None:
    g = gazetteer()
    assert assign_grid(normalize_address("天全县城厢镇太平村三组5号", g), g) == "51182500100201"
    assert assign_grid(normalize_address("天全县太平村4组5号", g), g) == "51182500100202"
    assert assign_grid(normalize_address("雨城区东城街道金鸡社区人民路1号", g), g) == (
        "51180200100101"
    )
    assert assign_grid(normalize_address("天全县太平村13组5号", g), g) is None  # no such group
    assert assign_grid(normalize_address("雨城区金鸡社区无名路1号", g), g) is None
    assert assign_grid(normalize_address("雨城区康乐路1号", g), g) is None  # no community
    assert assign_grid(None, g) is None


def test_gazetteer_refuses_an_unknown_coverage_rule() -> None:
    row = next(iter(read_csv("grids.csv")))
    with pytest.raises(ValueError, match="覆盖范围"):
        Gazetteer.from_rows([row | {"覆盖范围": "楼:1-3"}])


def test_latest_police_address_lands_in_the_persons_grid() -> None:
    truth = {r["record_id"]: r["person"] for r in read_csv("truth.csv") if r["source"] == "police"}
    g = gazetteer()
    spellings: dict[str, list[Address]] = defaultdict(list)
    latest: dict[str, tuple[tuple[str, str], str]] = {}
    for row in police_rows():
        person = truth[row["变动流水号"]]
        for text in (row["户籍地址"], row["现住址"]):
            address = normalize_address(text, g)
            if address is not None:
                spellings[person].append(address)
        changed = parse_date(row["变动日期"])
        assert changed is not None
        order = (changed.iso(), row["变动流水号"])
        if row["变动类型"] != "死亡注销" and (person not in latest or order > latest[person][0]):
            latest[person] = (order, row["现住址"])
    living = [p for p in read_csv("persons.csv") if p["deceased"] == "0"]
    placed = wrong = alone = 0
    for p in living:
        text = latest[p["person"]][1]
        grid = assign_grid(normalize_address(text, g, spellings[p["person"]]), g)
        placed += grid == p["grid"]
        wrong += grid not in (None, p["grid"])
        alone += assign_grid(normalize_address(text, g), g) == p["grid"]
    assert wrong == 0
    assert placed / len(living) >= 0.99
    assert alone / len(living) >= 0.94  # without the person's other spellings (measured 94.2%)


@pytest.mark.parametrize(("place", "community"), [
    ("名山区百丈镇南街社区", "名山区/百丈镇/南街社区"),
    ("四川省雅安市名山区百丈镇南街社区", "名山区/百丈镇/南街社区"),
    ("四川省成都市武侯区玉林街道玉林北路社区", OUTSIDE),
    ("云南省昆明市五华区华山街道", OUTSIDE),
    ("四川省凉山彝族自治州西昌市长安街道", OUTSIDE),
    ("凉山彝族自治州西昌市长安街道", OUTSIDE),
    ("西藏自治区拉萨市城关区", OUTSIDE),
    ("重庆市渝中区解放碑街道", OUTSIDE),
    ("某处", None),
])
def test_a_membership_place_names_a_community_or_lies_outside_the_city(
        place: str, community: str | None) -> None:
    gazetteer = Gazetteer.from_rows(read_grids_csv(SAMPLE / "grids.csv"))
    assert community_of(place, gazetteer) == community
