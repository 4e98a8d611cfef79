"""How the police's population system (实有人口) records the synthetic city's residents.

One row per change (police_population.csv, GB18030): 户籍登记 at the 2015 baseline for everyone
registered then, 出生登记 for babies born later (not for those never registered), 流动人口登记
and, for 80% of floating residents, 居住证办理; 住址变更 when people move, and 死亡注销 5 to 60
days after a death unless the death's fate leaves it out (synthetic_fates.py). Spellings and
mistakes: synthetic_rates, the level's rates of "police".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from connectors.synthetic_model import START, Fate, Person, Record, spouse_number
from connectors.synthetic_noise import Noise, spell_address
from connectors.synthetic_rates import SourceNoise

PERMIT_RATE = 0.8  # floating residents with a 居住证


class PoliceWriter:
    """Writes the police's rows about one person at a time."""

    source = "police"

    def __init__(self, rng: random.Random, rates: SourceNoise):
        self.rng = rng
        self.pen = Noise(self.source, rng, rates)
        self.count = 0

    def records(self, person: Person, fate: Fate) -> Iterator[Record]:
        """The person's changes, or none for a baby never registered."""
        if not fate.registered:
            return
        rng = self.rng
        if person.floating:
            yield self._row(person, "流动人口登记", person.registered)
            permit = person.registered + timedelta(days=rng.randint(15, 180))
            if rng.random() < PERMIT_RATE and permit <= person.last_day:
                yield self._row(person, "居住证办理", permit)
        else:
            first = "户籍登记" if person.born < START else "出生登记"
            yield self._row(person, first, person.registered)
        if person.moved is not None:
            yield self._row(person, "住址变更", person.moved)
        if person.died is not None and fate.deregistered:
            yield self._row(person, "死亡注销", person.died + timedelta(days=rng.randint(5, 60)))

    def _row(self, person: Person, kind: str, day: date) -> Record:
        pen = self.pen
        self.count += 1
        address = person.address_on(day)
        row = {
            "变动流水号": f"GA{day.year:04d}{day.month:02d}{day.day:02d}{self.count:07d}",
            "人员编号": person.police_key,
            "公民身份号码": pen.id_number(person.id_number, person.born,
                                      spouse_number(person, day)),
            "姓名": pen.name(person.name, person.minority),
            "性别": pen.sex(person.sex),
            "民族": person.ethnicity,
            "出生日期": pen.birth(person.born),
            "户籍地址": "" if person.floating else spell_address(person.home),
            "现住址": pen.address(address),
            "联系电话": pen.phone(person.phones),
            "人员类别": "流动人口" if person.floating else "户籍人口",
            "变动类型": kind,
            "变动日期": pen.date(day),
        }
        return Record(self.source, row["变动流水号"], kind, day, person, row,
                      community=address.grid[:12])
