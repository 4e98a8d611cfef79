"""How social security (人社) records the synthetic city's residents, since its 2010 system.

social_security.jsonl (金保 field codes): insurance.enrolled for 60% of people of working age
(35% of those working in 2010 enrolled on the migration day), employment.registered for 20% of
them since 2016 (never for a 低保 recipient, unless synthetic_fates.py plants a job for one),
pension.started at 60 (men) or 55 (women) for 70%, and pension.stopped 10 to 120 days after a
pensioner's death for half of the dead pensioners: the other half's pensions stay current
(deceased_with_active_pension). Spellings and mistakes: synthetic_rates, the level's
rates of "social_security".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from connectors.synthetic_model import (
    BENEFITS_FROM,
    SOCIAL_FROM,
    Fate,
    Person,
    Record,
    add_years,
    spouse_number,
)
from connectors.synthetic_noise import Noise
from connectors.synthetic_rates import SourceNoise

INSURED_RATE = 0.6
EMPLOYMENT_RATE = 0.2
PENSION_RATE = 0.7
PENSION_NOT_STOPPED = 0.5  # of dead pensioners
EMPLOYERS = ("雅安市茶业有限公司", "雨城区建筑工程队", "芦山县旅游开发公司", "名山区农业合作社",
             "汉源县花椒种植合作社", "石棉县水电开发有限公司", "雅安市人民医院", "荥经县砂器厂")


class SocialSecurityWriter:
    """Writes social security's events about one person at a time."""

    source = "social_security"

    def __init__(self, rng: random.Random, salt: int, rates: SourceNoise):
        self.rng = rng
        self.pen = Noise(self.source, rng, rates)
        self.count = 0
        self.salt = salt

    def records(self, person: Person, fate: Fate) -> Iterator[Record]:
        """The person's events (none for a baby never registered, too young anyway)."""
        rng = self.rng
        arrived = person.registered if person.floating else SOCIAL_FROM
        working = (max(SOCIAL_FROM, add_years(person.born, 18), arrived),
                   min(add_years(person.born, 60), person.last_day))
        if working[0] <= working[1] and rng.random() < INSURED_RATE:
            day = working[0]
            if day != SOCIAL_FROM or rng.random() >= 0.35:
                day = self._day(*working)
            scheme = "城镇职工基本养老保险" if rng.random() < 0.8 else "城乡居民基本养老保险"
            yield self._event(person, "insurance.enrolled", day, {"险种": scheme})
        lo = max(BENEFITS_FROM, working[0])
        if lo <= working[1] and rng.random() < EMPLOYMENT_RATE and fate.dibao is None:
            yield self._event(person, "employment.registered", self._day(lo, working[1]),
                              {"单位名称": rng.choice(EMPLOYERS)})
        if fate.employment is not None:
            yield self._event(person, "employment.registered", fate.employment,
                              {"单位名称": rng.choice(EMPLOYERS)})
        retired = add_years(person.born, 60 if person.sex == "男" else 55)
        if retired <= person.last_day and rng.random() < PENSION_RATE:
            day = min(retired + timedelta(days=rng.randint(0, 60)), person.last_day)
            yield self._event(person, "pension.started", day,
                              {"月养老金": rng.randrange(1500, 4800)})
            if person.died is not None and rng.random() >= PENSION_NOT_STOPPED:
                stopped = person.died + timedelta(days=rng.randint(10, 120))
                yield self._event(person, "pension.stopped", stopped, {"原因": "死亡"})

    def person_key(self, index: int) -> str:
        """aac001: a number of social security's own, stable for the person."""
        return str(1_000_000_000 + (index * 7_919_000_003 + self.salt) % 9_000_000_000)

    def _day(self, lo: date, hi: date) -> date:
        return date.fromordinal(self.rng.randint(lo.toordinal(), hi.toordinal()))

    def _event(self, person: Person, kind: str, day: date, payload: dict[str, Any]) -> Record:
        pen, rng = self.pen, self.rng
        self.count += 1
        obj = {
            "serial": f"RS{day.year:04d}{day.month:02d}{day.day:02d}{self.count:08d}",
            "event": kind,
            "aac001": person.social_key,
            "aac002": pen.id_number(person.id_number, person.born,
                                    spouse_number(person, day)) or None,
            "aac003": pen.name(person.name, person.minority),
            "aac004": pen.sex(person.sex),
            "aac006": pen.birth(person.born) or None,
            "address": pen.address(person.address_on(day), person.home_left(day)) or None,
            "phone": pen.phone(person.phones) or None,
            "occurred": f"{day.isoformat()}T{rng.randint(8, 17):02d}:{rng.randrange(60):02d}"
                        ":00+08:00",
            "payload": payload,
        }
        return Record(self.source, obj["serial"], kind, day, person, obj)
