"""How the departments write a synthetic resident's facts: their spellings and their mistakes.

The synthetic city (connectors/synthetic_city.py) knows each resident's true facts; every record
passes them through one department's `Noise`, which spells them the way that department does and
now and then gets them wrong, at the rates of the city's noise level (connectors/synthetic_rates.py,
where every rate is, with the tables they come from).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta

from connectors.synthetic_rates import SourceNoise

PROVINCE_CITY = "四川省雅安市"
CITY = "雅安市"
MIDDLE_DOT = "·"
FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
CHINESE_NUMERALS = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]

# Simplified -> traditional, for the characters the name pools use (陈→陳, 张→張, 刘→劉 ...).
TRADITIONAL = dict(zip(
    "陈张刘赵黄吴杨孙马罗郑冯邓许韩叶谢钟苏卢陆龙贾汤蒋顾伟华丽军红兰凤国涛飞刚辉鹏静艳宁阳凯帅鑫"
    "兴贵顺东强欢进荣庆义宝丰",
    "陳張劉趙黃吳楊孫馬羅鄭馮鄧許韓葉謝鍾蘇盧陸龍賈湯蔣顧偉華麗軍紅蘭鳳國濤飛剛輝鵬靜艷寧陽凱帥鑫"
    "興貴順東強歡進榮慶義寶豐", strict=True))

# Given-name characters and characters pronounced the same, as a clerk's input method offers them.
HOMOPHONES = {
    "伟": "玮炜", "静": "婧", "娜": "纳", "丽": "莉俪", "明": "铭", "杰": "洁", "峰": "锋",
    "军": "君均", "涛": "韬", "婷": "亭庭", "芳": "方", "霞": "侠", "华": "骅", "欣": "馨昕",
    "宇": "雨禹", "兰": "岚", "玲": "铃龄", "思": "斯", "佳": "嘉", "辉": "晖", "洋": "阳",
    "建": "健", "勇": "永", "平": "萍", "红": "虹鸿", "燕": "雁", "林": "琳霖", "斌": "彬",
    "浩": "昊皓", "凯": "恺", "鹏": "朋", "飞": "菲", "琴": "芹", "秀": "绣", "成": "诚",
    "涵": "晗", "轩": "萱", "晨": "辰", "梓": "紫", "琪": "琦", "怡": "宜", "文": "雯",
    "兴": "星", "贵": "桂", "桂": "贵", "萱": "轩", "雨": "宇", "阳": "洋", "梅": "玫",
}


@dataclass(frozen=True)
class Address:
    """One dwelling in a known grid; `rest` is what follows the community (or the group)."""

    district: str
    township: str
    community: str
    grid: str
    group: int | None  # village group (组); None in an urban community
    rest: str  # "22号" after the group, or "幸福路127号10栋3单元601室"
    township_needed: bool  # the community's name repeats in its district


def spell_address(address: Address, form: str = "full", chinese_group: bool = False) -> str:
    """Write an address as one of the departments' spellings: full, city or short."""
    head = {"full": PROVINCE_CITY, "city": CITY, "short": ""}[form] + address.district
    if form != "short" or address.township_needed:
        head += address.township
    group = ""
    if address.group is not None:
        number = CHINESE_NUMERALS[address.group] if chinese_group else str(address.group)
        group = f"{number}组"
    return f"{head}{address.community}{group}{address.rest}"


def format_date(day: date, spelling: str) -> str:
    """One date in one of the contract's spellings (compact, iso, slash, cn, cn_month,
    cn_padded, dot, dot_month)."""
    if spelling == "compact":
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"
    if spelling == "iso":
        return day.isoformat()
    if spelling == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if spelling == "cn":
        return f"{day.year}年{day.month}月{day.day}日"
    if spelling == "cn_month":
        return f"{day.year}年{day.month}月"
    if spelling == "cn_padded":
        return f"{day.year:04d}年{day.month:02d}月{day.day:02d}日"
    if spelling == "dot":
        return f"{day.year:04d}.{day.month:02d}.{day.day:02d}"
    if spelling == "dot_month":
        return f"{day.year:04d}.{day.month:02d}"
    raise ValueError(f"unknown date spelling {spelling!r}")


def legacy_number(number: str) -> str:
    """The 15-digit form of an 18-digit number: two-digit year, no check character."""
    return number[:6] + number[8:17]


def mistype_digit(number: str, rng: random.Random) -> str:
    """One character typed wrong; MOD 11-2 always catches it."""
    position = rng.randrange(18)
    choices = "0123456789X" if position == 17 else "0123456789"
    wrong = rng.choice([c for c in choices if c != number[position]])
    return number[:position] + wrong + number[position + 1:]


def swap_neighbours(number: str, rng: random.Random) -> str:
    """Two different neighbouring digits before the check character swapped."""
    pairs = [i for i in range(16) if number[i] != number[i + 1]]
    i = rng.choice(pairs)
    return number[:i] + number[i + 1] + number[i] + number[i + 2:]


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    """One key of (key, weight) pairs, by weight."""
    keys, weights = zip(*weighted, strict=True)
    return rng.choices(keys, weights)[0]


class Noise:
    """One department's pen: spells each true fact its way, counting what it wrote how."""

    def __init__(self, source: str, rng: random.Random, rates: SourceNoise):
        self.source = source
        self.rng = rng
        self.rates = rates
        self.applied: Counter[str] = Counter()

    def _hit(self, kind: str, rate: float) -> bool:
        """Draw whether this record gets `kind`, counting it when it does."""
        if rate and self.rng.random() < rate:
            self.applied[kind] += 1
            return True
        return False

    def id_number(self, number: str, born: date, spouse: str | None = None,
                  cremation: bool = False) -> str:
        """The ID number as typed: empty, the spouse's, legacy, mistyped, swapped or right."""
        r = self.rates
        u = self.rng.random()
        kinds = [("id_missing", r.id_missing_cremation if cremation else r.id_missing, True),
                 ("id_missing_old", r.id_missing_old, born.year < 1960),
                 ("id_spouse", r.id_spouse, spouse is not None),
                 ("id_legacy", r.id_legacy, 1900 <= born.year <= 1989),
                 ("id_digit", r.id_digit, True), ("id_swap", r.id_swap, True)]
        for kind, rate, possible in kinds:
            if u < rate:
                if not possible:  # its share stays right, never spilling into the next kind
                    break
                self.applied[kind] += 1
                return self._full_width(self._typed(kind, number, spouse))
            u -= rate
        return self._full_width(self._lower_x(number))

    def parent_id_number(self, number: str) -> str:
        """A parent's number on a birth certificate: empty, mistyped, swapped or right."""
        r, u = self.rates, self.rng.random()
        for kind, rate in (("parent_id_missing", r.parent_id_missing),
                           ("parent_id_digit", r.parent_id_digit),
                           ("parent_id_swap", r.parent_id_swap)):
            if u < rate:
                self.applied[kind] += 1
                return self._typed(kind.removeprefix("parent_"), number, None)
            u -= rate
        return self._lower_x(number)

    def _typed(self, kind: str, number: str, spouse: str | None) -> str:
        if kind in ("id_missing", "id_missing_old"):
            return ""
        if kind == "id_spouse" and spouse is not None:
            return self._lower_x(spouse)
        if kind == "id_legacy":
            return legacy_number(number)
        if kind == "id_digit":
            return mistype_digit(number, self.rng)
        return swap_neighbours(number, self.rng)

    def _lower_x(self, number: str) -> str:
        if number.endswith("X") and self._hit("id_lower_x", self.rates.id_lower_x):
            return number[:-1] + "x"
        return number

    def _full_width(self, number: str) -> str:
        """Typed in a Chinese input method's full-width mode (５１１８…)."""
        if number and self._hit("id_full_width", self.rates.id_full_width):
            return number.translate(FULL_WIDTH)
        return number

    def sparse(self) -> bool:
        """Whether this record is written without ID number and birth date."""
        return self._hit("sparse", self.rates.sparse)

    def name(self, name: str, minority: bool) -> str:
        """The name as typed: given-name characters swapped or one left out, homophone,
        traditional characters, middle dot, stray space."""
        r = self.rates
        if not minority and len(name) == 3:
            if name[1] != name[2] and self._hit("name_transposed", r.name_transposed):
                name = name[0] + name[2] + name[1]
            elif self._hit("name_dropped", r.name_dropped):
                i = self.rng.randrange(1, 3)
                name = name[:i] + name[i + 1:]
        if not minority and any(c in HOMOPHONES for c in name[1:]):
            if self._hit("name_homophone", r.name_homophone):
                i = self.rng.choice([i for i, c in enumerate(name) if i and c in HOMOPHONES])
                name = name[:i] + self.rng.choice(HOMOPHONES[name[i]]) + name[i + 1:]
        if any(c in TRADITIONAL for c in name) and self._hit("name_traditional",
                                                             r.name_traditional):
            name = "".join(TRADITIONAL.get(c, c) for c in name)
        if minority and self._hit("name_dot", r.name_dot):
            name = name.replace(MIDDLE_DOT, "") if MIDDLE_DOT in name else (
                name[:2] + MIDDLE_DOT + name[2:])
        if self._hit("name_space", r.name_space):
            name = name[0] + " " + name[1:]
        if self._hit("name_trailing_space", r.name_trailing_space):
            name += " "
        return name

    def birth(self, born: date) -> str:
        """The birth date as written: empty, mistyped, slipped (month and day swapped, a day or
        a year off), or right, in one of the department's spellings."""
        if self._hit("birth_missing", self.rates.birth_missing):
            return ""
        if self._hit("birth_typo", self.rates.birth_typo):
            born = self._mistyped_date(born)
        else:
            born = self._slipped_date(born)
        spelling = _pick(self.rng, self.rates.birth_spellings)
        self.applied[f"birth_{spelling}"] += 1
        return format_date(born, spelling)

    def _mistyped_date(self, day: date) -> date:
        """The same date with one digit of the month or day typed wrong (still a real date)."""
        while True:
            text = list(day.strftime("%Y%m%d"))
            position = self.rng.randrange(4, 8)
            text[position] = self.rng.choice("0123456789")
            try:
                wrong = date(int("".join(text[:4])), int("".join(text[4:6])),
                             int("".join(text[6:])))
            except ValueError:
                continue
            if wrong != day:
                return wrong

    def _slipped_date(self, day: date) -> date:
        """One of the clerk's slips, exclusive (a swap only where the day could be a month)."""
        r = self.rates
        if not (r.birth_swap or r.birth_day_off or r.birth_year_off):
            return day
        u = self.rng.random()
        if u < r.birth_swap:
            if day.day <= 12 and day.day != day.month:
                self.applied["birth_swap"] += 1
                return day.replace(month=day.day, day=day.month)
            return day
        u -= r.birth_swap
        if u < r.birth_day_off:
            self.applied["birth_day_off"] += 1
            return day + timedelta(days=self.rng.choice((-1, 1)))
        if u - r.birth_day_off < r.birth_year_off:
            self.applied["birth_year_off"] += 1
            year = day.year + self.rng.choice((-1, 1))
            return day.replace(year=year, day=min(day.day, 28 if day.month == 2 else 31))
        return day

    def date(self, day: date) -> str:
        """An event date in one of the department's spellings."""
        return format_date(day, _pick(self.rng, self.rates.date_spellings))

    def address(self, address: Address, before_move: Address | None = None) -> str:
        """The address in one of the department's spellings, or "" when not written; now and
        then the one the person left (`before_move`), or its house or flat written wrong."""
        r = self.rates
        if self._hit("address_missing", r.address_missing):
            return ""
        if before_move is not None and self._hit("address_stale", r.address_stale):
            address = before_move
        if self._hit("address_variant", r.address_variant):
            address = self._varied(address)
        form = _pick(self.rng, self.rates.address_forms)
        self.applied[f"address_{form}"] += 1
        chinese = address.group is not None and self._hit("address_chinese_group",
                                                          self.rates.address_chinese_group)
        return spell_address(address, form, chinese)

    def _varied(self, address: Address) -> Address:
        """The flat left out, or the house number mistyped or left out."""
        street, number, flat = re.fullmatch(r"(\D*?)(\d+)号(.*)", address.rest).groups()
        if flat and self.rng.random() < 0.5:
            return replace(address, rest=f"{street}{number}号")
        if not street and self.rng.random() < 0.5:
            return replace(address, rest="")  # a village house without its number
        wrong = list(number)
        i = self.rng.randrange(len(wrong))
        wrong[i] = self.rng.choice([d for d in "123456789" if d != wrong[i]])
        return replace(address, rest=f"{street}{''.join(wrong)}号{flat}")

    def phone(self, phones: tuple[str, ...]) -> str:
        """One of the person's phone numbers, or "" when not written."""
        if not phones or self._hit("phone_missing", self.rates.phone_missing):
            return ""
        return self.rng.choice(phones)

    def sex(self, sex: str) -> str:
        """男/女, or the GB/T 2261.1 codes 1/2 where the department uses them; now and then
        the other sex."""
        sex = self._recorded_sex(sex)
        if self._hit("sex_code", self.rates.sex_code):
            return "1" if sex == "男" else "2"
        return sex

    def sex_code(self, sex: str) -> str:
        """The GB/T 2261.1 code: 1 male, 2 female; now and then 0 unknown or 9 unstated, or
        the other sex."""
        sex = self._recorded_sex(sex)
        if self._hit("sex_unknown", self.rates.sex_unknown):
            return self.rng.choice("09")
        return "1" if sex == "男" else "2"

    def _recorded_sex(self, sex: str) -> str:
        if self._hit("sex_wrong", self.rates.sex_wrong):
            return "女" if sex == "男" else "男"
        return sex
