"""The generator's noise levels (connectors/synthetic_rates.py): level 0 writes no mistakes,
level 2 writes today's and the wider kinds at twice their rates, and plants the population's
traps (duplicate ID numbers, common names in one village)."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from connectors.fields import parse_date
from connectors.synthetic_city import iter_households
from connectors.synthetic_model import Household, Record
from connectors.synthetic_rates import LEVELS, NOISE, WIDER
from deploy.errors import InputError

PERSONS, SEED = 5000, 20260102
COLUMNS = {  # source -> (ID, name, sex, birth date, address)
    "police": ("公民身份号码", "姓名", "性别", "出生日期", "现住址"),
    "civil_affairs": ("身份证号", "姓名", "性别", "出生年月", "家庭住址"),
    "social_security": ("aac002", "aac003", "aac004", "aac006", "address"),
    "party": ("公民身份号码", "姓名", "性别", "出生日期", None),
    "health": ("身份证号", "姓名", "性别代码", "出生日期", "家庭住址"),
}
SEXES = {"男": "男", "女": "女", "1": "男", "2": "女"}


def _records(level: int) -> Iterator[Record]:
    return (r for h in iter_households(PERSONS, SEED, level) for r in h.records)


@pytest.fixture(scope="module")
def doubled() -> list[Household]:
    return list(iter_households(PERSONS, SEED, 2))


def _slack(n: int, rate: float) -> float:
    return 4 * math.sqrt(n * rate * (1 - rate)) + 3


def _birth_slip(written: date, born: date) -> str | None:
    if written == born:
        return None
    if (written.month, written.day) == (born.day, born.month) and written.year == born.year:
        return "birth_swap"
    if abs(written - born) == timedelta(days=1):
        return "birth_day_off"
    if abs(written.year - born.year) == 1 and written.month == born.month:
        return "birth_year_off"
    return "birth_typo"


def test_level_zero_writes_every_identity_right() -> None:
    checked = 0
    for record in _records(0):
        person, row = record.person, record.row
        id_column, name_column, sex_column, birth_column, _ = COLUMNS[record.source]
        number = unicodedata.normalize("NFKC", row.get(id_column) or "").upper()
        if record.kind != "出生医学证明":
            assert number == person.id_number, record
        assert row[name_column].strip() in ("", person.name)
        assert SEXES.get(row[sex_column], person.sex) == person.sex
        written = parse_date(row[birth_column])
        assert written is None or person.born.isoformat().startswith(written.iso())
        checked += 1
    assert checked > 10_000


def test_level_two_doubles_the_mistakes_and_adds_the_wider_kinds(
        doubled: list[Household]) -> None:
    flags: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for record in (r for h in doubled for r in h.records):
        person, row, source = record.person, record.row, record.source
        id_column, name_column, sex_column, birth_column, _ = COLUMNS[source]
        if source != "health":
            flags[source, "sex_wrong"].append(SEXES[row[sex_column]] != person.sex)
        if source == "civil_affairs":
            sparse = not row[id_column] and not row[birth_column]
            flags[source, "sparse"].append(sparse)
        written = parse_date(row[birth_column])
        if written is None or written.day is None:
            continue
        slip = _birth_slip(date.fromisoformat(written.iso()), person.born)
        for kind in ("birth_day_off", "birth_year_off"):
            flags[source, kind].append(slip == kind)
        if person.born.day <= 12 and person.born.day != person.born.month:
            flags[source, "birth_swap"].append(slip == "birth_swap")
    for (source, kind), seen in flags.items():
        rate = 2 * WIDER[source][kind]
        if kind == "sparse":  # a missing number and birth date by today's mistakes, too
            base = NOISE[source]
            rate += (1 - rate) * 2 * base.id_missing * 2 * base.birth_missing
        assert LEVELS[2].sources[source].__getattribute__(kind) == pytest.approx(
            2 * WIDER[source][kind])
        assert abs(sum(seen) - rate * len(seen)) <= _slack(len(seen), rate), (
            source, kind, sum(seen), len(seen), rate)
    assert sum(sum(seen) for seen in flags.values()) > 300
    assert LEVELS[2].sources["civil_affairs"].id_digit == pytest.approx(
        2 * NOISE["civil_affairs"].id_digit)


def test_level_two_plants_shared_numbers_and_common_names_in_one_village(
        doubled: list[Household]) -> None:
    people = {p.key: p for h in doubled for p in h.members}.values()
    by_number = defaultdict(list)
    for person in people:
        by_number[person.id_number].append(person)
    shared = [group for group in by_number.values() if len(group) > 1]
    assert len(shared) >= 10
    for group in shared:  # two people, each with a police person number of their own
        keys = [p.police_key for p in group if p.police_key]
        assert len(set(keys)) == len(keys)
        assert len({(p.born, p.sex) for p in group}) == 1
    villages = Counter((p.name, p.born.year, p.home.grid[:12]) for p in people)
    assert sum(n for n in villages.values() if n > 1) >= 20


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(InputError, match="noise level"):
        list(iter_households(10, 1, 3))
