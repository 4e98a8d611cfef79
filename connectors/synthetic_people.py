"""The synthetic city's households and lives: who lives where, is born, marries, moves and dies.

Households: single, couple, parents with children, three generations; 1 in 5 a floating
household from outside Ya'an (12% of the people). They live at addresses in the grid
reference's communities, districts weighted by population. From the police backfill baseline
(2015) to the export date people are born, marry, move and die. Traps for linkage: twins (same
birth date and address, similar names, different numbers) and clusters of common names born in
the same year (several 张伟 of 1983), all different people; at the wider noise levels
(synthetic_rates.PeopleNoise) such a cluster may live in one village, and a person living alone
may carry an earlier person's ID number (two people, one valid number).
"""

from __future__ import annotations

import random
from array import array
from collections import Counter
from datetime import date, timedelta

from stdnum.cn import ric

from connectors.synthetic_model import DEATHS, END, START, Person, add_years, age
from connectors.synthetic_names import (
    COMMON_NAMES,
    ETHNICITIES,
    family_name,
    full_name,
    twin_name,
)
from connectors.synthetic_noise import Address
from connectors.synthetic_places import GRID_NAMES, OUTSIDE_REGIONS, PLACES, Grid, grid_reference
from connectors.synthetic_rates import PeopleNoise

DEATH_RISK = ((40, 0.001), (60, 0.006), (70, 0.02), (80, 0.05), (200, 0.12))  # by age at END
SHARED_NUMBERS = (1936, 1989)  # birth years of the people whose number may be shared
SHARERS_KEPT = 2000  # earlier people whose number a later one may carry
TWIN_RATE = 1 / 80  # of births


class Population:
    """One random stream making households: their dwellings, people, ID numbers and lives."""

    def __init__(self, rng: random.Random, persons: int, noise: PeopleNoise):
        self.rng = rng
        self.noise = noise
        self.village: Address | None = None  # the first home of a cluster living in one village
        self.in_village = False  # whether the current cluster of common names does
        self.sharers: list[Person] = []  # earlier people whose number may be carried again
        self.house_max = max(80, persons // 1500)  # village house numbers, so few collide
        self.cluster: tuple[str, str, int] = ("", "", 0)
        self.cluster_left = 0
        regions = [code for code, *_ in PLACES] + list(OUTSIDE_REGIONS)
        self.region_index = {code: i for i, code in enumerate(regions)}
        self.first_day = date(1900, 1, 1).toordinal()
        self.days = END.toordinal() - self.first_day + 1
        self.id_counts = array("H", bytes(2 * 2 * len(regions) * self.days))
        self.grids_of: dict[str, list[tuple[Grid, bool]]] = {}
        self.grid_of: dict[str, tuple[Grid, bool]] = {}
        names = Counter((g.district, g.community) for g in grid_reference()
                        if g.name == GRID_NAMES[0])
        for grid in grid_reference():
            needed = names[grid.district, grid.community] > 1
            self.grids_of.setdefault(grid.district_code, []).append((grid, needed))
            self.grid_of[grid.code] = (grid, needed)
        self.districts = [code for code, *_ in PLACES]
        self.district_weights = [people for _, _, people, _ in PLACES]

    def day(self, lo: date, hi: date) -> date:
        """A day between lo and hi, both included."""
        return date.fromordinal(self.rng.randint(lo.toordinal(), hi.toordinal()))

    def _born(self, year_lo: int, year_hi: int) -> date:
        return self.day(date(year_lo, 1, 1), min(date(year_hi, 12, 31), END))

    def dwelling(self, grid_code: str | None = None) -> Address:
        """A new address in a random grid, districts weighted by population (or in that grid)."""
        rng = self.rng
        if grid_code is None:
            district = rng.choices(self.districts, self.district_weights)[0]
            grid, needed = rng.choice(self.grids_of[district])
        else:
            grid, needed = self.grid_of[grid_code]
        if grid.coverage.startswith("组"):
            lo, hi = (int(n) for n in grid.coverage[2:].split("-"))
            group: int | None = rng.randint(lo, hi)
            rest = f"{rng.randint(1, self.house_max)}号"
        else:
            group = None
            street = rng.choice(grid.coverage[3:].split("|"))
            rest = (f"{street}{rng.randint(1, 200)}号{rng.randint(1, 12)}栋{rng.randint(1, 4)}"
                    f"单元{rng.randint(1, 18)}{rng.randint(1, 4):02d}室")
        return Address(grid.district, grid.township, grid.community, grid.code, group, rest,
                       needed)

    def _id_number(self, region: str, born: date, male: bool) -> str:
        """A GB 11643 number no one else has: sequence odd for men, even for women."""
        day = born.toordinal() - self.first_day
        slot = (self.region_index[region] * self.days + day) * 2 + male
        n = self.id_counts[slot]
        if n >= 499:
            raise RuntimeError(f"more than 499 people born {born} in {region}")
        self.id_counts[slot] = n + 1
        seq = 2 * (1 + (slot % 499 + n * 197) % 499) + male
        body = f"{region}{born.year:04d}{born.month:02d}{born.day:02d}{seq:03d}"
        return body + ric.calc_check_digit(body + "0")

    def _phones(self) -> tuple[str, ...]:
        """A mobile number or two (an older one still in some records): 1[3-9] + 9 digits."""
        rng = self.rng
        count = 2 if rng.random() < 0.11 else 1
        return tuple(f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}" for _ in range(count))

    def _person(self, sex: str, born: date, home: Address, ethnicity: str, floating: bool,
                family: str | None = None, name: str | None = None,
                phones: tuple[str, ...] = (), number: str | None = None) -> Person:
        family = family_name(self.rng, ethnicity) if family is None else family
        name = name or full_name(self.rng, sex, ethnicity, family)
        region = self.rng.choice(OUTSIDE_REGIONS) if floating else home.grid[:6]
        if born < START:
            registered = self.day(START, START + timedelta(days=60))
        else:
            registered = min(born + timedelta(days=self.rng.randint(7, 60)), END)
        if floating and self.rng.random() < 0.3:
            registered = self.day(START + timedelta(days=61), END - timedelta(days=30))
        person = Person(number or self._id_number(region, born, sex == "男"), name, sex, born,
                        ethnicity, family, home, floating, phones or self._phones(), registered)
        if (self.noise.id_duplicate and number is None
                and SHARED_NUMBERS[0] <= born.year <= SHARED_NUMBERS[1]):
            self.sharers.append(person)
            if len(self.sharers) > SHARERS_KEPT:
                self.sharers.pop(self.rng.randrange(SHARERS_KEPT))
        return person

    def _cluster_member(self, ethnicity: str) -> tuple[str, str, int] | None:
        """Now and then the next few heads share a common name and birth year (several 张伟)."""
        if ethnicity not in ("汉族", "回族"):
            return None
        if self.cluster_left == 0 and self.rng.random() < 1 / 150:
            name, sex = self.rng.choice(COMMON_NAMES)
            self.cluster = (name, sex, self.rng.randint(1965, 1998))
            self.cluster_left = self.rng.randint(2, 4)
            rate = self.noise.common_name_village
            self.in_village, self.village = bool(rate) and self.rng.random() < rate, None
        if self.cluster_left == 0:
            return None
        self.cluster_left -= 1
        return self.cluster

    def _home_of_member(self, home: Address) -> Address:
        """Where a member of a cluster of common names lives: in the first one's village (at a
        house of their own) when the cluster lives in one, else `home`."""
        if not self.in_village:
            return home
        if self.village is None:
            self.village = home
            return home
        return self.dwelling(self.village.grid)

    def _couple(self, year_lo: int, year_hi: int, home: Address, ethnicity: str,
                floating: bool = False, family: str | None = None,
                cluster: bool = True) -> list[Person]:
        """Husband and wife, married when the younger was 20 to 30 (if that is before END)."""
        rng = self.rng
        common = self._cluster_member(ethnicity) if cluster else None
        if common is not None:
            home = self._home_of_member(home)
        gap = round(rng.gauss(2, 3))
        husband_year = rng.randint(year_lo, year_hi)
        if common is not None:
            husband_year = common[2] if common[1] == "男" else common[2] - gap
        husband_year = min(husband_year, END.year - 22)
        wife_year = min(husband_year + gap, END.year - 22)
        his = common[0] if common is not None and common[1] == "男" else None
        hers = common[0] if common is not None and common[1] == "女" else None
        man = self._person("男", self._born(husband_year, husband_year), home, ethnicity,
                           floating, family=family, name=his)
        woman = self._person("女", self._born(wife_year, wife_year), home, ethnicity, floating,
                             name=hers)
        wedding = add_years(max(man.born, woman.born), rng.randint(20, 28))
        wedding += timedelta(days=rng.randint(0, 364))
        if wedding <= END - timedelta(days=30):
            man.spouse, woman.spouse, man.married, woman.married = woman, man, wedding, wedding
        return [man, woman]

    def _children(self, father: Person, mother: Person, count: int) -> list[Person]:
        """Children born after the wedding while the mother was 22 to 40; some births twins."""
        rng = self.rng
        children: list[Person] = []
        earliest = (father.married or add_years(mother.born, 21)) + timedelta(days=300)
        for _ in range(count):
            born = max(add_years(mother.born, rng.randint(22, 40)), earliest)
            born += timedelta(days=rng.randint(0, 364))
            if born > END - timedelta(days=60):
                break
            earliest = born + timedelta(days=400)
            sex = rng.choice("男女")
            child = self._person(sex, born, father.home, father.ethnicity, False,
                                 family=father.family, phones=father.phones)
            children.append(child)
            if rng.random() < TWIN_RATE:
                children.append(self._twin(child, father))
        for child in children:
            child.mother, child.father = mother, father
        return children

    def _twin(self, child: Person, father: Person) -> Person:
        """Same birth date and address, a similar name (胡国强, 胡国富), a different number."""
        sex = self.rng.choice("男女")
        child.name, name = twin_name(self.rng, child.name, child.family, child.ethnicity, sex,
                                     child.sex)
        twin = self._person(sex, child.born, father.home, child.ethnicity, False,
                            family=child.family, name=name, phones=father.phones)
        twin.twin = child
        return twin

    def members(self) -> list[Person]:
        """The people of one new household."""
        rng = self.rng
        ethnicity = rng.choices(*zip(*ETHNICITIES, strict=True))[0]
        home = self.dwelling()
        kind = rng.random()
        if kind < 0.2:  # floating: a worker or a couple from outside Ya'an (12% of people)
            if rng.random() < 0.25:
                return self._couple(1965, 2000, home, ethnicity, floating=True)
            return [self.single(1960, 2006, home, ethnicity, floating=True)]
        if kind < 0.46:
            young = rng.random() < 0.6
            return [self.single(1985 if young else 1936, 2004 if young else 1984, home,
                                ethnicity)]
        if kind < 0.6:
            return self._couple(1940, 2000, home, ethnicity)
        if kind < 0.9:
            parents = self._couple(1958, 1998, home, ethnicity)
            count = rng.choices((1, 2, 3), (0.5, 0.38, 0.12))[0]
            return parents + self._children(*parents, count)
        grandparents = self._couple(1936, 1960, home, ethnicity, cluster=False)
        family = grandparents[0].family
        if rng.random() < 0.4:  # widowed
            grandparents.pop(rng.randrange(2))
            grandparents[0].spouse = grandparents[0].married = None
        year = grandparents[-1].born.year + rng.randint(22, 34)
        parents = self._couple(year, year, home, ethnicity, family=family, cluster=False)
        count = rng.choices((1, 2), (0.7, 0.3))[0]
        return grandparents + parents + self._children(*parents, count)

    def single(self, year_lo: int, year_hi: int, home: Address, ethnicity: str,
               floating: bool = False) -> Person:
        """One adult living alone (now and then one of a cluster of common names, or carrying
        an earlier person's number)."""
        common = self._cluster_member(ethnicity)
        if common is not None:
            name, sex, year = common
            return self._person(sex, self._born(year, year), self._home_of_member(home),
                                ethnicity, floating, name=name)
        rate = self.noise.id_duplicate
        if rate and self.rng.random() < rate:
            fitting = [p for p in self.sharers  # a number from where the person comes from
                       if year_lo <= p.born.year <= year_hi and p.floating == floating]
            if fitting:
                earlier = self.rng.choice(fitting)
                return self._person(earlier.sex, earlier.born, home, ethnicity, floating,
                                    number=earlier.id_number)
        return self._person(self.rng.choice("男女"), self._born(year_lo, year_hi), home,
                            ethnicity, floating)

    def live(self, person: Person) -> None:
        """Whether and when the person dies and moves house (after the backfill baseline)."""
        rng = self.rng
        years = age(person.born, END)
        risk = next(risk for below, risk in DEATH_RISK if years < below)
        earliest = max(DEATHS[0], person.registered + timedelta(days=30))
        if years >= 25 and rng.random() < risk and earliest <= DEATHS[1]:
            person.died = self.day(earliest, DEATHS[1])
        lo = max(START + timedelta(days=365), person.registered + timedelta(days=60),
                 add_years(person.born, 18))
        hi = person.last_day - timedelta(days=30)
        if rng.random() < self.noise.move_rate and lo <= hi:
            person.moved = self.day(lo, hi)
            person.new_home = self.dwelling()
            while person.new_home.grid == person.home.grid:
                person.new_home = self.dwelling()
