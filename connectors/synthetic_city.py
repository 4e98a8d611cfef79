"""The project's own synthetic Ya'an: residents, their lives, and the five departments' records.

`generate_city(persons, seed, out_dir, noise)` writes a city in the contract's formats
(shared/departments/README.md), the same files as its sample5: the five departments' exports
(police, civil affairs, social security, the party organisation, health), truth.csv (which
person each record belongs to), persons.csv (everyone, babies known only to health included),
findings.csv and grids.csv. Pure Python, deterministic by seed (same seed, same bytes) and
streaming: households are made one at a time and their records written in shuffled blocks, so
memory stays flat (Ya'an's 1.43 million fit). The noise level (synthetic_rates.LEVELS: 0 none,
1 today's, the default, 2 twice today's with the wider kinds) sets every rate of the
departments' mistakes and of the population's traps.

One job per module: the places and grids (synthetic_places), names (synthetic_names), the
households and their lives (synthetic_people), what the departments will know of each person
(synthetic_fates: where the findings are planted, with the rates), each department's records
(synthetic_police, _civil_affairs, _social_security, _party, _health) written with its own
spellings and mistakes (synthetic_noise; their rates in synthetic_rates), the findings the
records show (synthetic_findings: findings.csv lists every case of every kind the hub decides from a
resident's records, planted or not, and no other) and the files (synthetic_output).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.synthetic_civil_affairs import CivilAffairsWriter
from connectors.synthetic_fates import Fates
from connectors.synthetic_findings import household_findings
from connectors.synthetic_health import HealthWriter
from connectors.synthetic_model import Household, Person
from connectors.synthetic_output import CityFiles
from connectors.synthetic_party import PartyWriter
from connectors.synthetic_people import Population
from connectors.synthetic_police import PoliceWriter
from connectors.synthetic_rates import LEVELS, NoiseLevel
from connectors.synthetic_social_security import SocialSecurityWriter
from connectors.synthetic_warnings import Planter, planted_household, write_planted
from deploy.errors import InputError


@dataclass
class CityStats:
    """What was generated, for the command's summary and to compare runs."""

    persons: int = 0
    households: int = 0
    floating: int = 0
    deceased: int = 0
    moved: int = 0
    twins: int = 0  # pairs
    members: int = 0  # party members
    unregistered: int = 0  # babies known only to their birth certificate
    records: Counter[str] = field(default_factory=Counter)  # by source
    findings: Counter[str] = field(default_factory=Counter)  # by kind
    noise: Counter[str] = field(default_factory=Counter)  # "source.kind": records so written


class _City:
    """The generator's state: one random stream, the households, the departments' writers."""

    def __init__(self, persons: int, seed: int, noise: NoiseLevel, plant_warnings: bool = False):
        if persons < 0:
            raise InputError(f"persons must be >= 0, got {persons}")
        self.total = persons
        rng = random.Random(f"sanwang-city:{seed}")
        rates = noise.sources
        self.population = Population(rng, persons, noise.people)
        self.fates = Fates(rng)
        self.police = PoliceWriter(rng, rates["police"])
        self.civil_affairs = CivilAffairsWriter(rng, rates["civil_affairs"])
        self.social_security = SocialSecurityWriter(rng, rng.randrange(9_000_000_000),
                                                    rates["social_security"])
        self.party = PartyWriter(rng, rng.randrange(10 ** 12), rates["party"])
        self.health = HealthWriter(rng, rates["health"])
        self.stats = CityStats()
        self.planter = Planter(seed, self.population) if plant_warnings else None

    def _members(self) -> list[Person]:
        """A new household's people, keyed and lived; the last ones may be singles."""
        population, stats = self.population, self.stats
        members = population.members()
        if len(members) > self.total - stats.persons:
            members = [population.single(1930, 2004, population.dwelling(), "汉族")]
        for person in members:
            self._key(person)
            population.live(person)
        return members

    def _key(self, person: Person) -> None:
        """The person's keys in truth.csv and in each department's records."""
        index = self.stats.persons
        person.key = f"T{index:07d}"
        person.police_key = f"R{person.home.grid[:6]}{index:08d}"
        person.social_key = self.social_security.person_key(index)
        person.party_key = self.party.member_key(index)
        self.stats.persons += 1

    def households(self) -> Iterator[Household]:
        """Make households until the city has its residents."""
        stats = self.stats
        while stats.persons < self.total:
            household = Household(self._members())
            self.fates.decide(household)
            yield self._recorded(household)
        if self.planter is not None:
            for person, fate in self.planter.persons():
                self._key(person)
                yield self._recorded(planted_household(person, fate))
        for writer in (self.police, self.civil_affairs, self.social_security, self.party,
                       self.health):
            stats.noise.update({f"{writer.source}.{kind}": n
                                for kind, n in writer.pen.applied.items()})

    def _recorded(self, household: Household) -> Household:
        """The household with every department's records of it and the findings they show."""
        records = household.records
        for person in household.members:
            fate = household.fates[person]
            records.extend(self.police.records(person, fate))
            records.extend(self.civil_affairs.records(person, fate, household))
            records.extend(self.social_security.records(person, fate))
            records.extend(self.party.records(person, fate))
            records.extend(self.health.records(person, fate))
        household.findings = household_findings(household)
        self._count(household)
        return household

    def _count(self, household: Household) -> None:
        stats, members = self.stats, household.members
        stats.households += 1
        stats.floating += sum(p.floating for p in members)
        stats.deceased += sum(p.died is not None for p in members)
        stats.moved += sum(p.moved is not None for p in members)
        stats.twins += sum(p.twin is not None for p in members)
        stats.members += sum(bool(f.party) for f in household.fates.values())
        stats.unregistered += sum(not f.registered for f in household.fates.values())
        stats.records.update(r.source for r in household.records)
        stats.findings.update(kind for kind, _ in household.findings)


def noise_level(level: int) -> NoiseLevel:
    """One of synthetic_rates.LEVELS."""
    if level not in LEVELS:
        raise InputError(f"unknown noise level {level!r}: one of {', '.join(map(str, LEVELS))}")
    return LEVELS[level]


def iter_households(persons: int, seed: int, noise: int = 1) -> Iterator[Household]:
    """The city household by household, each record with its true person, to check the noise."""
    return _City(persons, seed, noise_level(noise)).households()


def generate_city(persons: int, seed: int, out_dir: Path, noise: int = 1,
                  plant_warnings: bool = False) -> CityStats:
    """Write the five exports and the city's lists for `persons` residents (babies known only
    to health among them) at a noise level: load and score the hub at scale. With
    `plant_warnings`, extra residents carry a surge and a trend (synthetic_warnings), listed in
    warnings.csv."""
    city = _City(persons, seed, noise_level(noise), plant_warnings)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = CityFiles(out_dir, seed)
    try:
        for household in city.households():
            files.add(household)
        files.finish()
        if city.planter is not None:
            write_planted(out_dir / "warnings.csv", city.planter.planted)
    finally:
        files.close()
    return city.stats
