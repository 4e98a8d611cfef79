"""The synthetic city's model: a resident's true life, what each department knows of it (its
fate in their records), and the records they keep, with the calendar they all share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from connectors.synthetic_noise import Address

START = date(2015, 1, 1)  # the police backfill's baseline: everyone alive is registered then
END = date(2026, 10, 31)  # the export date: nothing happens later
CIVIL_FROM = date(2000, 1, 1)  # civil affairs' registrations begin
SOCIAL_FROM = date(2010, 1, 1)  # social security's system (its migration day)
BENEFITS_FROM = date(2016, 1, 1)  # 低保, allowances and employment records begin
DEATHS = (date(2018, 1, 1), END - timedelta(days=150))  # room for every follow-up record


@dataclass(eq=False)
class Person:
    """One resident's true facts, as every department should have recorded them."""

    id_number: str
    name: str
    sex: str  # 男 / 女
    born: date
    ethnicity: str
    family: str  # surname or Yi clan name, passed to the children ("" for Tibetan names)
    home: Address  # where they lived when first registered
    floating: bool
    phones: tuple[str, ...]
    registered: date  # the first police record
    key: str = ""  # T0000000: the person in truth.csv, persons.csv and findings.csv
    police_key: str = ""  # 人员编号
    social_key: str = ""  # aac001
    party_key: str = ""  # 党员编号
    mother: Person | None = field(default=None, repr=False)
    father: Person | None = field(default=None, repr=False)
    spouse: Person | None = field(default=None, repr=False)
    married: date | None = None
    moved: date | None = None
    new_home: Address | None = None
    died: date | None = None
    twin: Person | None = field(default=None, repr=False)  # the first twin, on the second

    def address_on(self, day: date) -> Address:
        """Where the person lived on `day`."""
        if self.moved is not None and self.new_home is not None and day >= self.moved:
            return self.new_home
        return self.home

    def home_left(self, day: date) -> Address | None:
        """The home the person had moved out of by `day` (None: not moved by then)."""
        if self.moved is not None and day >= self.moved:
            return self.home
        return None

    @property
    def grid(self) -> str:
        """The grid where the person lives now (or lived last)."""
        return self.address_on(END).grid

    @property
    def minority(self) -> bool:
        """Tibetan and Yi names are written differently (two parts, maybe a middle dot)."""
        return self.ethnicity in ("藏族", "彝族")

    @property
    def last_day(self) -> date:
        """The last day anything can happen to the person in the records (their own acts)."""
        return END if self.died is None else self.died - timedelta(days=1)


@dataclass(frozen=True)
class PartyChange:
    """One change of a member's record: what, when, and where the membership is kept after it."""

    kind: str  # 入党, 转正, 组织关系转入, 死亡
    day: date
    place: str  # 组织关系所在地 as written: 雨城区青江街道和平社区, or a place outside the city
    community: str  # that place's community code; "" outside the city
    full: bool  # 正式党员 (else 预备党员) after the change


@dataclass
class Fate:
    """What the departments will know of one person: the choices that cross departments, made
    once so that every department's records agree (and the findings are what they show)."""

    registered: bool = True  # False: a baby known only to its birth certificate (未落户)
    cremated: bool = False
    certified: bool = False  # a death certificate (死亡医学证明)
    deregistered: bool = False  # the police's 死亡注销
    dibao: date | None = None  # the household's 低保认定, on its applicant
    employment: date | None = None  # a job the 低保 recipient registered (planted)
    nameless_certificate: bool = False  # the birth certificate leaves the child's name empty
    party: list[PartyChange] = field(default_factory=list)  # the member's changes, in order


@dataclass(frozen=True)
class Record:
    """One department record and the person it truly belongs to."""

    source: str
    record_id: str
    kind: str  # 变动类型, 业务类型, event or 证明类型
    day: date
    person: Person
    row: dict[str, Any]  # CSV header -> text, or the JSON object
    community: str | None = None  # where the record places the person: police 现住址, party
    # 组织关系所在地 (a community code, "" outside the city); None for the other records


@dataclass
class Household:
    """The people at one address, what the departments know of them, every record about them
    and the findings those records show."""

    members: list[Person]
    fates: dict[Person, Fate] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    findings: list[tuple[str, Person]] = field(default_factory=list)


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age(born: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def spouse_number(person: Person, day: date) -> str | None:
    """The number a clerk may type by mistake: the spouse's, once they are married."""
    if person.spouse is None or person.married is None or person.married > day:
        return None
    return person.spouse.id_number
