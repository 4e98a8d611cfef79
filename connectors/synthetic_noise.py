"""How the departments write a synthetic resident's facts: their spellings and their mistakes.

The synthetic city (connectors/synthetic_city.py) knows each resident's true facts; every record
passes them through one department's `Noise`, which spells them the way that department does and
now and then gets them wrong. The rates below are per record and were measured on the contract's
sample city (shared/departments/sample, 949 records of 401 people, with truth.csv), then rounded;
where the sample shows a kind of damage once or never but the contract names it, a small rate
was chosen (marked *). "sample" is the measured rate with the same denominator; "ours" the
configured one (NOISE below): police / civil affairs / social security.

| noise (denominator)                            | sample                | ours                  |
|---|---|---|
| ID missing (records)                           | 0 / 5.5% / 0          | 0 / 5% / 0            |
| ID missing on 火化登记 (cremations)            | 0 of 5                | - / 35%* / -          |
| ID one digit mistyped (records)                | 0.4% / 2.0% / 0       | 0.4% / 2% / 0.4%*     |
| ID two neighbours swapped (records)            | 0.4% / 1.0% / 1.1%    | 0.4% / 1% / 1%        |
| ID legacy 15 digits (records, born 1900-1989)  | 0.9% / 0.8% / 1.4%    | 1% / 1% / 1.2%        |
| ID lower-case x (numbers ending in X)          | 38% / 53% / 36%       | 40% / 50% / 35%       |
| ID is the spouse's (records of married people) | 0 / 0.5% / 0.8%       | 0 / 0.6% / 0.6%       |
| name: stray space after the first character    | 0.4% / 1.5% / 0.7%    | 0.4% / 1.5% / 0.7%    |
| name: traditional (陈→陳; names with one)      | 0 / 0.9% / 0          | 0.2%* / 2% / 0.2%*    |
| name: homophone in the given name (伟→玮)      | 0 / 0 / 0             | 0.2%* / 1.5%* / 0.5%* |
| name: middle dot added or dropped (藏族/彝族)  | no dots in 83         | 2%* / 15%* / 10%*     |
| birth date: one digit wrong                    | 0 / 2.0% / 2.5%       | 0 / 2% / 2.5%         |
| birth date empty                               | 0 / 4.5% / 0          | 0 / 4.5% / 0          |
| phone empty                                    | 28% / 48% / 20%       | 28% / 48% / 20%       |
| address empty                                  | 0 / 0 / 37%           | 0 / 0 / 37%           |
| address 四川省雅安市+区县+乡镇 (of non-empty)  | 67% / 34% / 53%       | 67% / 34% / 53%       |
| address 雅安市+区县+乡镇                       | 0 / 31% / 0           | 0 / 31% / 0           |
| address 区县 without 乡镇 (**)                 | 33% / 36% / 47%       | 33% / 35% / 47%       |
| village group in Chinese numerals (三组)       | 0 / 35% / 0           | 0 / 35% / 0           |

Spellings (police / social security): 出生日期 19560312 51% / 72% (ours 50% / 72%), else
1956-03-12; police 变动日期 2019-02-03 51%, 20190203 49% (ours 50/50); social aac004 1/2
instead of 男/女 49% (ours 49%). Civil affairs, of non-empty 出生年月: 1956年3月 42%,
1956年3月12日 27%, 1956-03-12 32% (ours 42/27/31); 办理日期 2019年2月3日 37%, 2019-02-03 34%,
2019/2/3 30% (ours 37/33/30).

(**) the township is kept when the community's name repeats in its district (雨城区 has two
青龙社区), so that every spelling still lands in exactly one grid. The police 户籍地址 is always
written in full. Mistakes are exclusive per field (an ID number is missing, or the spouse's,
or legacy, or mistyped, or swapped), the lower-case x is applied after them; name noises are
independent. A mistyped digit or a swap never yields a valid number (MOD 11-2 catches both).

The party organisation / health, measured on shared/departments/sample5 (66 party records of 33
members; 36 certificates: 31 births, 5 deaths), then rounded; * as above; `-` none. The field is
SourceNoise's: a test reads this table against NOISE.

| noise (denominator)                         | field                 | sample5    | ours      |
|---|---|---|---|
| ID missing (members born before 1960)       | id_missing_old        | 0 of 2 / - | 12%* / -  |
| ID missing (death certificates)             | id_missing            | - / 1 of 5 | - / 8%    |
| ID one digit mistyped (death certificates)  | id_digit              | - / 0 of 5 | - / 2%*   |
| ID neighbours swapped (death certificates)  | id_swap               | - / 0 of 5 | - / 1%*   |
| ID in full-width digits (written numbers)   | id_full_width         | 1.5% / -   | 2% / -    |
| ID lower-case x (numbers ending in X)       | id_lower_x            | 1 of 2 / - | 35% / 40% |
| name with a trailing space (records)        | name_trailing_space   | 1.5% / 0   | 2% / -    |
| parent's ID missing (parents' numbers)      | parent_id_missing     | - / 4.8%   | - / 4%    |
| parent's ID one digit mistyped              | parent_id_digit       | - / 0      | - / 1%*   |
| parent's ID neighbours swapped              | parent_id_swap        | - / 1.6%   | - / 1.5%  |
| sex code 0 or 9, not 1/2 (certificates)     | sex_unknown           | - / 0      | - / 1%*   |
| phone empty (records)                       | phone_missing         | 38% / -    | 38% / -   |
| village group in Chinese numerals (三组)    | address_chinese_group | - / 33%    | - / 35%   |

Spellings: party 出生日期 1956.03 23% (ours 25%), else 1956.03.12; 入党日期 1956.03.12, 变动日期
1956-03-12. Health dates (出生日期, 死亡日期, 签发日期, each drawn alone) 1956年03月12日 73% (ours
70%), else 1956-03-12; addresses 四川省雅安市 25%, 雅安市 22%, district and community 53% (ours
25/25/50). The full-width mode applies to any written number, lower-case x included (５１…ｘ).
The birth certificates' empty names are the model's (connectors/synthetic_fates.py), not noise.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class SourceNoise:
    """How often one department writes a field wrong or differently (rates per record)."""

    id_missing: float = 0.0
    id_missing_cremation: float = 0.0
    id_spouse: float = 0.0  # of records of people with a spouse
    id_legacy: float = 0.0  # of records of people born 1900-1989
    id_digit: float = 0.0
    id_swap: float = 0.0
    id_missing_old: float = 0.0  # of records of people born before 1960
    id_lower_x: float = 0.0  # of written numbers ending in X
    id_full_width: float = 0.0  # of written numbers
    parent_id_missing: float = 0.0  # of parents' numbers
    parent_id_digit: float = 0.0
    parent_id_swap: float = 0.0
    name_space: float = 0.0
    name_traditional: float = 0.0  # of names with a character that has a traditional form
    name_homophone: float = 0.0  # of names whose given name has a homophone
    name_dot: float = 0.0  # of 藏族/彝族 names
    name_trailing_space: float = 0.0
    birth_typo: float = 0.0
    birth_missing: float = 0.0
    birth_spellings: tuple[tuple[str, float], ...] = (("iso", 1.0),)
    date_spellings: tuple[tuple[str, float], ...] = (("iso", 1.0),)
    address_missing: float = 0.0
    address_forms: tuple[tuple[str, float], ...] = (("full", 1.0),)
    address_chinese_group: float = 0.0  # of village addresses
    phone_missing: float = 0.0
    sex_code: float = 0.0  # 1/2 instead of 男/女
    sex_unknown: float = 0.0  # GB/T 2261.1 0 or 9 instead of 1/2, where codes are the rule


NOISE = {
    "police": SourceNoise(
        id_digit=0.004, id_swap=0.004, id_legacy=0.01, id_lower_x=0.4,
        name_space=0.004, name_traditional=0.002, name_homophone=0.002, name_dot=0.02,
        birth_spellings=(("compact", 0.5), ("iso", 0.5)),
        date_spellings=(("iso", 0.5), ("compact", 0.5)),
        address_forms=(("full", 0.67), ("short", 0.33)), phone_missing=0.28),
    "civil_affairs": SourceNoise(
        id_missing=0.05, id_missing_cremation=0.35, id_spouse=0.006, id_legacy=0.01,
        id_digit=0.02, id_swap=0.01, id_lower_x=0.5,
        name_space=0.015, name_traditional=0.02, name_homophone=0.015, name_dot=0.15,
        birth_typo=0.02, birth_missing=0.045,
        birth_spellings=(("cn_month", 0.42), ("cn", 0.27), ("iso", 0.31)),
        date_spellings=(("cn", 0.37), ("iso", 0.33), ("slash", 0.30)),
        address_forms=(("full", 0.34), ("city", 0.31), ("short", 0.35)),
        address_chinese_group=0.35, phone_missing=0.48),
    "social_security": SourceNoise(
        id_spouse=0.006, id_legacy=0.012, id_digit=0.004, id_swap=0.01, id_lower_x=0.35,
        name_space=0.007, name_traditional=0.002, name_homophone=0.005, name_dot=0.1,
        birth_typo=0.025, birth_spellings=(("compact", 0.72), ("iso", 0.28)),
        address_missing=0.37, address_forms=(("full", 0.53), ("short", 0.47)),
        phone_missing=0.2, sex_code=0.49),
    "party": SourceNoise(
        id_missing_old=0.12, id_lower_x=0.35, id_full_width=0.02, name_trailing_space=0.02,
        birth_spellings=(("dot", 0.75), ("dot_month", 0.25)), phone_missing=0.38),
    "health": SourceNoise(
        id_missing=0.08, id_digit=0.02, id_swap=0.01, id_lower_x=0.4, parent_id_missing=0.04,
        parent_id_digit=0.01, parent_id_swap=0.015, sex_unknown=0.01,
        birth_spellings=(("cn_padded", 0.7), ("iso", 0.3)),
        date_spellings=(("cn_padded", 0.7), ("iso", 0.3)),
        address_forms=(("full", 0.25), ("city", 0.25), ("short", 0.5)),
        address_chinese_group=0.35),
}


class Noise:
    """One department's pen: spells each true fact its way, counting what it wrote how."""

    def __init__(self, source: str, rng: random.Random, rates: SourceNoise | None = None):
        self.source = source
        self.rng = rng
        self.rates = rates or NOISE[source]
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

    def name(self, name: str, minority: bool) -> str:
        """The name as typed: homophone, traditional characters, middle dot, stray space."""
        r = self.rates
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
        """The birth date as written: empty, mistyped, or in one of the department's spellings."""
        if self._hit("birth_missing", self.rates.birth_missing):
            return ""
        if self._hit("birth_typo", self.rates.birth_typo):
            born = self._mistyped_date(born)
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

    def date(self, day: date) -> str:
        """An event date in one of the department's spellings."""
        return format_date(day, _pick(self.rng, self.rates.date_spellings))

    def address(self, address: Address) -> str:
        """The address in one of the department's spellings, or "" when not written."""
        if self._hit("address_missing", self.rates.address_missing):
            return ""
        form = _pick(self.rng, self.rates.address_forms)
        self.applied[f"address_{form}"] += 1
        chinese = address.group is not None and self._hit("address_chinese_group",
                                                          self.rates.address_chinese_group)
        return spell_address(address, form, chinese)

    def phone(self, phones: tuple[str, ...]) -> str:
        """One of the person's phone numbers, or "" when not written."""
        if not phones or self._hit("phone_missing", self.rates.phone_missing):
            return ""
        return self.rng.choice(phones)

    def sex(self, sex: str) -> str:
        """男/女, or the GB/T 2261.1 codes 1/2 where the department uses them."""
        if self._hit("sex_code", self.rates.sex_code):
            return "1" if sex == "男" else "2"
        return sex

    def sex_code(self, sex: str) -> str:
        """The GB/T 2261.1 code: 1 male, 2 female; now and then 0 unknown or 9 unstated."""
        if self._hit("sex_unknown", self.rates.sex_unknown):
            return self.rng.choice("09")
        return "1" if sex == "男" else "2"
