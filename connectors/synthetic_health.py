"""How the health commission (卫健委) records the synthetic city's births and deaths.

health_certificates.csv (UTF-8, CRLF), one row per certificate. A 出生医学证明 for every baby
born since 2015, issued 0 to 10 days after the birth: the child's name (empty when the fate says
so, synthetic_fates.py), sex code, birth date and address, no ID number, the mother's and the
father's names and numbers. A 死亡医学证明 for the certified deaths, issued 0 to 3 days after:
the deceased's identity, ID number and date of death. Issued by the district's hospital (60%) or
one of the city's. Spellings and mistakes: synthetic_rates, the level's rates of "health".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from connectors.synthetic_model import START, Fate, Person, Record
from connectors.synthetic_noise import Address, Noise
from connectors.synthetic_places import PLACES
from connectors.synthetic_rates import SourceNoise

CITY_HOSPITALS = ("雅安市人民医院", "雅安市妇幼保健院")
DISTRICT_HOSPITALS = {code: f"{name}人民医院" for code, name, *_ in PLACES}
DISTRICT_HOSPITAL_RATE = 0.6
BIRTH, DEATH = "出生医学证明", "死亡医学证明"


class HealthWriter:
    """Writes the health commission's certificates about one person at a time."""

    source = "health"

    def __init__(self, rng: random.Random, rates: SourceNoise):
        self.rng = rng
        self.pen = Noise(self.source, rng, rates)
        self.count = 0

    def records(self, person: Person, fate: Fate) -> Iterator[Record]:
        """The person's birth certificate (born since 2015) and death certificate (certified)."""
        pen = self.pen
        mother, father = person.mother, person.father
        if person.born >= START and mother is not None and father is not None:
            home = person.address_on(person.born)
            row, issued = self._certificate(person, "O", BIRTH, home, person.born, 10)
            row |= {"姓名": "" if fate.nameless_certificate else person.name, "身份证号": "",
                    "母亲姓名": mother.name, "母亲身份证号": pen.parent_id_number(mother.id_number),
                    "父亲姓名": father.name, "父亲身份证号": pen.parent_id_number(father.id_number),
                    "死亡日期": ""}
            yield Record(self.source, row["证明编号"], BIRTH, issued, person, row)
        if fate.certified and person.died is not None:
            home = person.address_on(person.died)
            row, issued = self._certificate(person, "S", DEATH, home, person.died, 3)
            row |= {"姓名": person.name, "身份证号": pen.id_number(person.id_number, person.born),
                    "母亲姓名": "", "母亲身份证号": "", "父亲姓名": "", "父亲身份证号": "",
                    "死亡日期": pen.date(person.died)}
            yield Record(self.source, row["证明编号"], DEATH, issued, person, row)

    def _certificate(self, person: Person, prefix: str, kind: str, home: Address, day: date,
                     most_days: int) -> tuple[dict[str, str], date]:
        """The columns every certificate has (number, kind, sex, birth, address, issue), and
        the day it was issued, up to `most_days` after the birth or death."""
        pen, rng = self.pen, self.rng
        self.count += 1
        issued = day + timedelta(days=rng.randint(0, most_days))
        district = home.grid[:6]
        hospital = (DISTRICT_HOSPITALS[district] if rng.random() < DISTRICT_HOSPITAL_RATE
                    else rng.choice(CITY_HOSPITALS))
        return {"证明编号": f"{prefix}{district}{issued.year:04d}{self.count:07d}",
                "证明类型": kind, "性别代码": pen.sex_code(person.sex),
                "出生日期": pen.birth(person.born),
                "家庭住址": pen.address(home, person.home_left(day)),
                "签发日期": pen.date(issued), "签发机构": hospital}, issued
