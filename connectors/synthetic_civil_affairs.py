"""How civil affairs (民政) records the synthetic city's residents: its business registrations.

civil_affairs.csv (UTF-8 with BOM), registered residents only except for cremations: 结婚登记
since 2000 (each spouse's own record, naming the other), 低保认定 for the household's applicant
(synthetic_fates.py), 高龄津贴发放 for 70% of those who reach 80 since 2016, 残疾人两项补贴 for
1.8% of people, 火化登记 1 to 5 days after a death when it is cremated. Spellings and mistakes:
synthetic_rates, the level's rates of "civil_affairs".
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from connectors.synthetic_model import (
    BENEFITS_FROM,
    CIVIL_FROM,
    Fate,
    Household,
    Person,
    Record,
    add_years,
    age,
    spouse_number,
)
from connectors.synthetic_noise import Noise
from connectors.synthetic_rates import SourceNoise

ELDERLY_ALLOWANCE_RATE = 0.7  # of people reaching 80 (sample: most)
DISABILITY_RATE = 0.018  # people with 残疾人两项补贴 (sample: 7 of 401)
DISABILITY = ("一级", "二级", "三级", "四级")


class CivilAffairsWriter:
    """Writes civil affairs' registrations about one person at a time."""

    source = "civil_affairs"

    def __init__(self, rng: random.Random, rates: SourceNoise):
        self.rng = rng
        self.pen = Noise(self.source, rng, rates)
        self.count = 0

    def records(self, person: Person, fate: Fate, household: Household) -> Iterator[Record]:
        """The person's registrations (none for a baby never registered)."""
        rng, spouse = self.rng, person.spouse
        if not person.floating and fate.registered:
            if (spouse is not None and person.married is not None and CIVIL_FROM <= person.married
                    and person.married <= min(person.last_day, spouse.last_day)):
                yield self._row(person, "结婚登记", person.married,
                                {"配偶姓名": spouse.name, "配偶身份证号": spouse.id_number})
            if fate.dibao is not None:
                amount = rng.choice((480, 560, 640, 720))
                yield self._row(person, "低保认定", fate.dibao,
                                {"保障人口": len(household.members), "月保障金额": amount})
            eighty = max(add_years(person.born, 80), BENEFITS_FROM)
            if eighty <= person.last_day and rng.random() < ELDERLY_ALLOWANCE_RATE:
                day = min(eighty + timedelta(days=rng.randint(0, 180)), person.last_day)
                years = age(person.born, day)
                amount = 100 if years < 90 else 200 if years < 100 else 300
                yield self._row(person, "高龄津贴发放", day, {"年龄": years, "月发放金额": amount})
            start = max(BENEFITS_FROM, person.registered)
            if rng.random() < DISABILITY_RATE and start <= person.last_day:
                day = date.fromordinal(rng.randint(start.toordinal(),
                                                   person.last_day.toordinal()))
                yield self._row(person, "残疾人两项补贴", day, {"残疾等级": rng.choice(DISABILITY)})
        if fate.cremated and person.died is not None:
            yield self._row(person, "火化登记", person.died + timedelta(days=rng.randint(1, 5)),
                            {"死亡日期": person.died.isoformat(), "火化地点": "雅安市殡仪馆"})

    def _row(self, person: Person, kind: str, day: date, details: dict[str, Any]) -> Record:
        pen = self.pen
        self.count += 1
        sparse = pen.sparse()  # name, sex, address, maybe a phone: no number, no birth date
        row = {
            "业务流水号": f"MZ{day.year:04d}{day.month:02d}{self.count:08d}",
            "业务类型": kind,
            "身份证号": "" if sparse else pen.id_number(
                person.id_number, person.born, spouse_number(person, day),
                cremation=kind == "火化登记"),
            "姓名": pen.name(person.name, person.minority),
            "性别": pen.sex(person.sex),
            "出生年月": "" if sparse else pen.birth(person.born),
            "家庭住址": pen.address(person.address_on(day), person.home_left(day)),
            "联系方式": pen.phone(person.phones),
            "办理日期": pen.date(day),
            "业务内容": json.dumps(details, ensure_ascii=False),
        }
        return Record(self.source, row["业务流水号"], kind, day, person, row)
