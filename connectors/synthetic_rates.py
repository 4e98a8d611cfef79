"""How often the synthetic city's departments write a fact differently or wrong: every rate of
the generator's noise, and the noise levels (`sanwang generate --noise LEVEL`).

Levels: 1 is the model the hub was built on (NOISE, the tables below, measured on the
contract's samples; the default, its output unchanged). 0 is none of the mistakes (spellings
only). 2 is twice the noise: every mistake of NOISE twice as often, plus the kinds real
registers show beyond those (WIDER, each at twice its own rate: slips in birth dates and sex,
transposed and dropped name characters, records without number and birth date, stale and
variant addresses; and, among the people, twice the moves, duplicate ID numbers and common
names in one village). Spellings and what a department collects at all (lower-case x,
full-width digits, Chinese group numerals, sex codes, empty phones and addresses) are the
department's format, not its mistakes, and stay as they are at every level (SPELLINGS).

| level | kinds         | mistakes | moves | duplicate numbers | common names in one village |
|---|---|---|---|---|---|
| 0     | -             | x0       | 6%    | -                 | -                           |
| 1     | NOISE         | x1       | 6%    | -                 | -                           |
| 2     | NOISE + WIDER | x2       | 12%   | 2%                | 100%                        |

Duplicate numbers: of the people living alone, the share who carry the valid number of an
earlier person born 1936-1989 (the 15-digit era), with that person's birth date and sex: two
people, one number, each with their own police person number. Common names: of the clusters
of people sharing a common name and birth year (several 张伟 of 1983), the share whose members
all live in one village or community, at different houses.

Today's rates (NOISE) were measured on the contract's sample city (shared/departments/sample,
949 records of 401 people, with truth.csv), then rounded; where the sample shows a kind of
damage once or never but the contract names it, a small rate was chosen (marked *). "sample" is
the measured rate with the same denominator; "ours" the configured one (NOISE below): police /
civil affairs / social security.

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

The wider kinds (WIDER; chosen, not measured: no sample shows them, real registers do), in
% of the denominator before level 2 doubles them, police / civil affairs / social security /
party / health; `-` none. The birth slips are exclusive with each other and with the
one-digit typo; a swap is only possible where the day is 1-12 and not the month (else the
date stays right), so its denominator is those.

| noise (denominator)                                   | field           | ours                  |
|---|---|---|
| birth month and day swapped (written births, day<=12) | birth_swap      | .2/.5/.5/.3/.2        |
| birth date a day off (written births)                 | birth_day_off   | .2/.5/.5/.3/.2        |
| birth date a year off (written births)                | birth_year_off  | .1/.3/.3/.2/.1        |
| the other sex (records)                               | sex_wrong       | .1/.4/.3/.2/.2        |
| given name's two characters swapped (Han, 3)          | name_transposed | .1/.4/.3/.2/.1        |
| a given-name character left out (Han, 3)              | name_dropped    | .1/.4/.3/.2/.1        |
| no ID number and no birth date (records)              | sparse          | -/3/-/-/-             |
| the address before a move (records after the move)    | address_stale   | -/20/30/-/10          |
| house number mistyped or left out, flat left out      | address_variant | .3/1/1/-/1            |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


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
    name_transposed: float = 0.0  # of Han names of three characters, the last two differing
    name_dropped: float = 0.0  # of Han names of three characters
    birth_typo: float = 0.0
    birth_swap: float = 0.0  # of written births whose day (1-12) is not the month
    birth_day_off: float = 0.0
    birth_year_off: float = 0.0
    birth_missing: float = 0.0
    birth_spellings: tuple[tuple[str, float], ...] = (("iso", 1.0),)
    date_spellings: tuple[tuple[str, float], ...] = (("iso", 1.0),)
    sparse: float = 0.0  # records written without ID number and birth date
    address_missing: float = 0.0
    address_stale: float = 0.0  # of records written after the person moved
    address_variant: float = 0.0  # of written addresses
    address_forms: tuple[tuple[str, float], ...] = (("full", 1.0),)
    address_chinese_group: float = 0.0  # of village addresses
    phone_missing: float = 0.0
    sex_wrong: float = 0.0
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

WIDER: dict[str, dict[str, float]] = {  # police, civil affairs, social security, party, health
    source: {field: rates[i] for field, rates in {
        "birth_swap": (0.002, 0.005, 0.005, 0.003, 0.002),
        "birth_day_off": (0.002, 0.005, 0.005, 0.003, 0.002),
        "birth_year_off": (0.001, 0.003, 0.003, 0.002, 0.001),
        "sex_wrong": (0.001, 0.004, 0.003, 0.002, 0.002),
        "name_transposed": (0.001, 0.004, 0.003, 0.002, 0.001),
        "name_dropped": (0.001, 0.004, 0.003, 0.002, 0.001),
        "sparse": (0.0, 0.03, 0.0, 0.0, 0.0),
        "address_stale": (0.0, 0.2, 0.3, 0.0, 0.1),
        "address_variant": (0.003, 0.01, 0.01, 0.0, 0.01),
    }.items()}
    for i, source in enumerate(NOISE)
}
# Rates that are a department's format or what it collects, not its mistakes: never scaled.
SPELLINGS = frozenset({"id_lower_x", "id_full_width", "address_chinese_group", "sex_code",
                       "phone_missing", "address_missing"})


@dataclass(frozen=True)
class PeopleNoise:
    """The traps in the population itself (per person; see the levels' table)."""

    move_rate: float = 0.06  # people with a 住址变更 (sample: 23 of 401)
    id_duplicate: float = 0.0  # of people living alone: an earlier person's number
    common_name_village: float = 0.0  # of clusters of people sharing a common name


@dataclass(frozen=True)
class NoiseLevel:
    """Every rate of one level: each department's and the population's."""

    level: int
    sources: dict[str, SourceNoise]
    people: PeopleNoise


def _scaled(rates: SourceNoise, factor: float) -> SourceNoise:
    return dataclasses.replace(rates, **{
        f.name: min(1.0, getattr(rates, f.name) * factor)
        for f in dataclasses.fields(SourceNoise)
        if f.type == "float" and f.name not in SPELLINGS})


def _level(level: int, wider: bool, people: PeopleNoise) -> NoiseLevel:
    sources = {s: dataclasses.replace(r, **WIDER[s]) if wider else r for s, r in NOISE.items()}
    return NoiseLevel(level, {s: _scaled(r, level) for s, r in sources.items()}, people)


LEVELS = {
    0: _level(0, False, PeopleNoise()),
    1: NoiseLevel(1, NOISE, PeopleNoise()),
    2: _level(2, True, PeopleNoise(0.12, 0.02, 1.0)),
}
