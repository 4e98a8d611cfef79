"""What the departments will know of each resident: the choices that cross departments.

A death is known to the police (死亡注销), civil affairs (火化登记) and health (死亡医学证明) or
only to some of them; a 低保 household's applicant may also register a job; a baby's birth
certificate may never be followed by the police's 出生登记; a party member's membership moves
with them, or stays behind. These choices are made here, once per person, so that every
department's records agree; the findings are then read from the records (synthetic_findings).

Rates (the planted findings they make are in brackets):
- deaths: 95% cremated, 90% certified; a death with either evidence is left without the police's
  死亡注销 at 20% [cremated_not_deregistered, death_certified_not_deregistered]; a death with
  neither is always deregistered, so the hub knows of every death (and no death is known only
  to the party roll). The party records 死亡 for 70% of its dead members
  [deceased_party_member_on_roll: the other 30%].
- 低保: 7.5% of registered households, one adult applicant between 2016 and the export; 10% of
  applicants under 60 register a job, half before, half after the 低保 [dibao_with_employment];
  no other applicant registers one.
- births since 2015: every one has a birth certificate; 3% of singletons are never registered
  by the police [birth_not_registered]; 6% of singletons' certificates leave the name empty,
  and 30% of twin pairs' both do (the hub cannot tell them apart: review, not a guess).
- party membership (党员): of men born before 1950, 1950-69, 1970-89, later: 22%, 16%, 11%, 8%;
  of women 8%, 7%, 7%, 7%; joined at 18 to 45 (never after the export or death), 转正 a year
  later. Kept where the member lived when joining (88%), in another community of the city
  (6%) or away (6%, at university in 成都 or 重庆); a floating member who joined before
  coming keeps it at home, one who joined here keeps it at home at 70%. Once full members
  (and arrived), half of those kept outside the city and 40% of those kept in another
  community transfer it (组织关系转入) to where they live; of members who move house, 60%
  transfer it after them [party_member_living_elsewhere: a living member whose membership is
  not where the police has them living].
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from connectors.synthetic_model import (
    BENEFITS_FROM,
    END,
    START,
    Fate,
    Household,
    PartyChange,
    Person,
    add_years,
    age,
)
from connectors.synthetic_places import AWAY_PLACES, OUTSIDE_PLACES, communities

CREMATED = 0.95  # of the dead (sample: 5 of 5)
CERTIFIED = 0.9  # of the dead (sample5: 4 of 5)
NOT_DEREGISTERED = 0.2  # of the dead with a cremation or a death certificate
PARTY_DEATH_RECORDED = 0.7  # of dead members
DIBAO_RATE = 0.075  # households with a 低保认定 (sample: 13 of 401 people, ~173 households)
DIBAO_EMPLOYMENT = 0.1  # of applicants under 60
UNREGISTERED_BIRTH = 0.03  # of singletons born since START
NAMELESS = 0.06  # of singletons' birth certificates (sample5: 2 of 32)
NAMELESS_TWINS = 0.3  # of twin pairs born since START
MEMBERSHIP = {"男": ((1950, 0.22), (1970, 0.16), (1990, 0.11), (10_000, 0.08)),
              "女": ((1950, 0.08), (1970, 0.07), (1990, 0.07), (10_000, 0.07))}
KEPT = (("home", 0.88), ("other", 0.06), ("away", 0.06))  # where a local member joins
FLOATING_KEPT_HOME = 0.7  # of floating members who joined here
TRANSFER_IN = {"outside": 0.5, "away": 0.5, "other": 0.4}  # once full members, after arriving
TRANSFER_AFTER_MOVE = 0.6


class Fates:
    """Decides, household by household, what each department will know of its people."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.places = communities()
        self.codes = sorted(self.places)

    def decide(self, household: Household) -> None:
        """Every member's fate, in `household.fates`."""
        rng = self.rng
        for person in household.members:
            household.fates[person] = fate = Fate()
            if person.died is not None:
                fate.cremated = rng.random() < CREMATED
                fate.certified = rng.random() < CERTIFIED
                fate.deregistered = (not (fate.cremated or fate.certified)
                                     or rng.random() >= NOT_DEREGISTERED)
            fate.party = self._membership(person)
        self._births(household)
        self._dibao(household)

    def _births(self, household: Household) -> None:
        rng, fates = self.rng, household.fates
        for person in household.members:
            if person.born < START or person.mother is None:
                continue
            twin = person.twin
            if twin is not None:  # the second twin decides for both
                fates[person].nameless_certificate = fates[twin].nameless_certificate = (
                    rng.random() < NAMELESS_TWINS)
            elif not any(p.twin is person for p in household.members):
                fates[person].registered = rng.random() >= UNREGISTERED_BIRTH
                fates[person].nameless_certificate = rng.random() < NAMELESS

    def _dibao(self, household: Household) -> None:
        """低保认定 for one adult of a registered household; now and then a job registered too."""
        rng, members = self.rng, household.members
        if members[0].floating or rng.random() >= DIBAO_RATE:
            return
        day = self._day(BENEFITS_FROM, END - timedelta(days=200))
        adults = [p for p in members if age(p.born, day) >= 18 and p.last_day > day]
        if not adults:
            return
        applicant = rng.choice(adults)
        fate = household.fates[applicant]
        fate.dibao = day
        if age(applicant.born, day) >= 60 or rng.random() >= DIBAO_EMPLOYMENT:
            return
        if rng.random() < 0.5:
            job = day + timedelta(days=rng.randint(30, 180))
        else:
            job = day - timedelta(days=rng.randint(30, 720))
        if max(BENEFITS_FROM, add_years(applicant.born, 18)) <= job <= applicant.last_day:
            fate.employment = job

    def _day(self, lo: date, hi: date) -> date:
        return date.fromordinal(self.rng.randint(lo.toordinal(), hi.toordinal()))

    def _membership(self, person: Person) -> list[PartyChange]:
        """The member's changes (入党, 转正, 组织关系转入, 死亡); [] for a non-member."""
        rng = self.rng
        rate = next(r for before, r in MEMBERSHIP[person.sex] if person.born.year < before)
        if rng.random() >= rate:
            return []
        joined = add_years(person.born, rng.randint(18, 45)) + timedelta(days=rng.randrange(365))
        if joined > person.last_day:
            return []
        kept = self._kept(person, joined)
        changes = [PartyChange("入党", joined, *self._place(kept, person, joined), full=False)]
        full = joined + timedelta(days=rng.randint(365, 395))
        if full > person.last_day:
            return self._died(person, changes)
        changes.append(PartyChange("转正", full, changes[0].place, changes[0].community, True))
        arrived = person.registered if person.floating else full
        lo = max(full, arrived) + timedelta(days=30)
        if kept in TRANSFER_IN and lo <= person.last_day and rng.random() < TRANSFER_IN[kept]:
            self._transfer(person, changes, self._day(lo, person.last_day))
        moved = person.moved
        if (moved is not None and person.new_home is not None and moved > changes[-1].day
                and changes[-1].community == person.home.grid[:12]
                and rng.random() < TRANSFER_AFTER_MOVE):
            self._transfer(person, changes, moved + timedelta(days=rng.randint(30, 365)))
        return self._died(person, changes)

    def _kept(self, person: Person, joined: date) -> str:
        """Where the membership is kept when joining: home, another community, away (outside)."""
        rng = self.rng
        if person.floating:
            at_home = joined < person.registered or rng.random() < FLOATING_KEPT_HOME
            return "outside" if at_home else "home"
        keys, weights = zip(*KEPT, strict=True)
        return rng.choices(keys, weights)[0]

    def _place(self, kept: str, person: Person, day: date) -> tuple[str, str]:
        """(组织关系所在地 as written, its community code or "" outside the city)."""
        if kept == "outside":
            return OUTSIDE_PLACES[person.id_number[:6]], ""
        if kept == "away":
            return self.rng.choice(AWAY_PLACES), ""
        code = person.address_on(day).grid[:12]
        if kept == "other":
            code = self.rng.choice([c for c in self.codes if c != code])
        return self.places[code].place, code

    def _transfer(self, person: Person, changes: list[PartyChange], day: date) -> None:
        """组织关系转入: the membership comes to where the member lives on `day`."""
        place, code = self._place("home", person, day)
        if day <= person.last_day and day > changes[-1].day and code != changes[-1].community:
            changes.append(PartyChange("组织关系转入", day, place, code, True))

    def _died(self, person: Person, changes: list[PartyChange]) -> list[PartyChange]:
        if person.died is not None and self.rng.random() < PARTY_DEATH_RECORDED:
            last = changes[-1]
            day = person.died + timedelta(days=self.rng.randint(10, 120))
            changes.append(PartyChange("死亡", day, last.place, last.community, last.full))
        return changes
