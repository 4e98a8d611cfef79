"""The project's own synthetic Ya'an: residents, their lives, and the departments' records of them.

`generate_city(persons, seed, out_dir)` writes a city in the contract's formats
(shared/departments/README.md), the same files as shared/departments/sample: the three
departments' exports, truth.csv, persons.csv, findings.csv and grids.csv. It is pure Python,
deterministic by seed (same seed, same bytes) and streaming: households are made one at a time
and their records written in shuffled blocks, so memory stays flat (Ya'an's 1.43 million fit).

The model: households (single, couple, parents with children, three generations; 1 in 5 a
floating household from outside Ya'an, 12% of the people) live at addresses in the grid
reference's communities (grids.csv, the same 360 grids as the sample's).
From the police backfill baseline (2015) to the export date (END) people are born, marry, move,
retire and die; each department records what it handles (police: 户籍登记 ... 死亡注销; civil
affairs: 结婚登记 since 2000, 低保认定, 高龄津贴发放, 残疾人两项补贴, 火化登记; social security
since 2010: insurance.enrolled, employment.registered, pension.started (older pensions keep
their start date), pension.stopped) and
writes it with its own spellings and mistakes (connectors/synthetic_noise.py, with the rates).
Traps for linkage: twins (same birth date and address, similar names, different numbers) and
clusters of common names born in the same year (several 张伟 of 1983), all different people.
Planted findings, each listed in findings.csv and in no other case: deceased_with_active_pension
(a death registered, the pension never stopped), cremated_not_deregistered (火化登记 without the
police 死亡注销), dibao_with_employment (employment.registered after 低保认定).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stdnum.cn import ric

from connectors import civil_affairs, police
from connectors.synthetic_noise import MIDDLE_DOT, Address, Noise, spell_address
from deploy.errors import InputError

START = date(2015, 1, 1)  # the police backfill's baseline: everyone alive is registered then
END = date(2026, 10, 31)  # the export date: nothing happens later
CIVIL_FROM = date(2000, 1, 1)  # civil affairs' registrations begin
SOCIAL_FROM = date(2010, 1, 1)  # social security's system (its migration day)
BENEFITS_FROM = date(2016, 1, 1)  # 低保, allowances and employment records begin
DEATHS = (date(2018, 1, 1), END - timedelta(days=150))  # room for every follow-up record
SOURCES = ("police", "civil_affairs", "social_security")
FINDING_KINDS = ("deceased_with_active_pension", "cremated_not_deregistered",
                 "dibao_with_employment")
GRID_HEADER = ["网格编码", "区县代码", "区县", "乡镇街道", "村社区", "网格名称", "覆盖范围"]
BLOCK = 8192  # records shuffled together before they are written
DEATH_RISK = ((40, 0.001), (60, 0.006), (70, 0.02), (80, 0.05), (200, 0.12))  # by age at END
MOVE_RATE = 0.06  # people with a 住址变更 (sample: 23 of 401)
DIBAO_RATE = 0.075  # households with a 低保认定 (sample: 13 of 401 people, ~173 households)
DISABILITY_RATE = 0.018  # people with 残疾人两项补贴 (sample: 7 of 401)
CREMATION_RATE = 0.95  # of the dead (sample: 5 of 5)
# Planted findings: of the dead cremated, of the dead drawing a pension, of 低保 recipients.
PLANTED = {"cremated_not_deregistered": 0.2, "deceased_with_active_pension": 0.5,
           "dibao_with_employment": 0.1}

# District code, name, population (万, 2020 census, rounded), townships with their communities.
PLACES = (
    ("511802", "雨城区", 37, (
        "东城街道 金鸡社区 双河社区 青龙社区", "西城街道 康藏路社区 安乐社区 和平社区",
        "河北街道 福田社区 东街社区 安乐社区", "青江街道 兴隆社区 和平社区 东街社区",
        "大兴街道 土桥社区 青龙社区 白马社区", "草坝镇 新华社区 东街村 光明社区",
        "上里镇 中里村 东街村 光明村")),
    ("511803", "名山区", 26, (
        "蒙阳街道 福田社区 光明社区 青龙社区", "永兴街道 和平社区 青龙社区 金鸡社区",
        "百丈镇 兴隆社区 南街社区 双河社区", "新店镇 清江村 丰收社区 丰收村")),
    ("511822", "荥经县", 13, (
        "严道街道 青龙社区 南街社区 东街社区", "花滩镇 清江社区 和平社区 新华社区",
        "六合乡 青龙社区 福田社区 南街村")),
    ("511823", "汉源县", 26, (
        "富林镇 双河村 福田社区 东街社区", "九襄镇 北街社区 光明村 双河村",
        "清溪镇 新华村 太平社区 西街村")),
    ("511824", "石棉县", 11, (
        "新棉街道 太平社区 光明社区 白马社区", "安顺场镇 双河村 和平社区 北街村",
        "美罗镇 明德村 和平村 太平村")),
    ("511825", "天全县", 12, (
        "城厢镇 北街村 太平村 兴隆村", "始阳镇 团结村 和平村 北街村",
        "思经镇 新华社区 太平社区 西街社区")),
    ("511826", "芦山县", 10, (
        "芦阳街道 城南社区 火炬村 福田社区", "飞仙关镇 福田社区 兴隆村 西街村",
        "龙门镇 红星社区 兴隆社区 北街村", "思延镇 北街社区 安乐村 太平村")),
    ("511827", "宝兴县", 5, (
        "穆坪镇 新华村 太平社区 清江村", "灵关镇 太平村 金鸡社区 团结社区",
        "陇东镇 红星社区 东街社区 青龙社区")),
)
# An urban community's four grids cover these streets, by the community's place in its township.
STREETS = (("人民路|新康路", "雅州大道|滨江路", "学苑街|文化路", "幸福路"),
           ("新康路|雅州大道", "滨江路|学苑街", "文化路|幸福路", "康乐路|育才路"),
           ("雅州大道|滨江路", "学苑街|文化路", "幸福路", "育才路|建设路"))
GROUPS = ((1, 3), (4, 6), (7, 9), (10, 12))  # a village's four grids cover these groups (组)
GRID_NAMES = ("第一网格", "第二网格", "第三网格", "第四网格")
OUTSIDE_REGIONS = ("500105", "530102", "513401", "510722", "610113", "510107", "510104")

SURNAMES = ("王李张刘陈杨黄赵吴周" * 6 + "徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹" * 3
            + "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊"
            "秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵严覃武戴")
HUI_SURNAMES = "马马马白哈穆纳丁"
GIVEN = {"男": "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国峰成兴福贵"
              "志文博轩晨然子德安",
         "女": "芳娜敏静丽艳娟霞秀玲桂英华梅琳雪婷倩颖兰凤琴萍红洁燕欣怡佳思涵萱雨琪月莉慧珍玉"}
TIBETAN = {"男": "扎西 次仁 多吉 尼玛 格桑 泽仁 达瓦 洛桑 平措 旺堆".split(),
           "女": "措姆 拉姆 卓玛 央金 德吉 央宗 白玛 曲珍 次仁 格桑".split()}
YI_CLANS = "沙马 吉克 俄底 海来 阿木 马海 阿苏 曲比 吉伍 勒格".split()
YI_GIVEN = {"男": "木呷 拉哈 尔古 石者 日格 伍呷".split(),
            "女": "伍各 阿衣 阿呷 阿果 尔果 莫色".split()}
COMMON_NAMES = (("张伟", "男"), ("王伟", "男"), ("王芳", "女"), ("李娜", "女"), ("刘洋", "男"),
                ("李静", "女"), ("张敏", "女"), ("李强", "男"), ("张磊", "男"), ("刘伟", "男"))
ETHNICITIES = (("汉族", 0.895), ("藏族", 0.05), ("彝族", 0.04), ("回族", 0.015))
EMPLOYERS = ("雅安市茶业有限公司", "雨城区建筑工程队", "芦山县旅游开发公司", "名山区农业合作社",
             "汉源县花椒种植合作社", "石棉县水电开发有限公司", "雅安市人民医院", "荥经县砂器厂")
DISABILITY = ("一级", "二级", "三级", "四级")


@dataclass(frozen=True)
class Grid:
    """One row of the grid reference (网格化管理): which addresses a grid covers."""

    code: str
    district_code: str
    district: str
    township: str
    community: str
    name: str
    coverage: str

    def row(self) -> list[str]:
        """The grids.csv row."""
        return [self.code, self.district_code, self.district, self.township, self.community,
                self.name, self.coverage]


def grid_reference() -> list[Grid]:
    """The sample's 360 grids, in code order, so that addresses and grids.csv always agree."""
    grids = []
    for code, district, _, townships in PLACES:
        for t, line in enumerate(townships, 1):
            township, *communities = line.split()
            for c, community in enumerate(communities, 1):
                for g in range(4):
                    if community.endswith("村"):
                        coverage = "组:{}-{}".format(*GROUPS[g])
                    else:
                        coverage = "街路:" + STREETS[c - 1][g]
                    grids.append(Grid(f"{code}{t:03d}{c:03d}{g + 1:02d}", code, district,
                                      township, community, GRID_NAMES[g], coverage))
    return grids


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
class Record:
    """One department record and the person it truly belongs to."""

    source: str
    record_id: str
    kind: str  # 变动类型, 业务类型 or event
    day: date
    person: Person
    row: dict[str, Any]  # CSV header -> text, or the JSON object


@dataclass
class Household:
    """The people at one address, every record about them and the findings planted in them."""

    members: list[Person]
    records: list[Record] = field(default_factory=list)
    findings: list[tuple[str, Person]] = field(default_factory=list)


@dataclass
class CityStats:
    """What was generated, for the command's summary and to compare runs."""

    persons: int = 0
    households: int = 0
    floating: int = 0
    deceased: int = 0
    moved: int = 0
    twins: int = 0  # pairs
    records: Counter[str] = field(default_factory=Counter)  # by source
    findings: Counter[str] = field(default_factory=Counter)  # by kind
    noise: Counter[str] = field(default_factory=Counter)  # "source.kind": records so written


def _add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class _City:
    """The generator's state: one random stream, counters, and the household factory."""

    def __init__(self, persons: int, seed: int):
        if persons < 0:
            raise InputError(f"persons must be >= 0, got {persons}")
        self.total = persons
        self.rng = random.Random(f"sanwang-city:{seed}")
        self.noise = {source: Noise(source, self.rng) for source in SOURCES}
        self.stats = CityStats()
        self.serials: Counter[str] = Counter()
        self.house_max = max(80, persons // 1500)  # village house numbers, so few collide
        self.social_salt = self.rng.randrange(9_000_000_000)
        self.cluster: tuple[str, str, int] = ("", "", 0)
        self.cluster_left = 0
        regions = [code for code, *_ in PLACES] + list(OUTSIDE_REGIONS)
        self.region_index = {code: i for i, code in enumerate(regions)}
        self.first_day = date(1900, 1, 1).toordinal()
        self.days = END.toordinal() - self.first_day + 1
        self.id_counts = array("H", bytes(2 * 2 * len(regions) * self.days))
        self.grids_of: dict[str, list[tuple[Grid, bool]]] = {}
        names = Counter((g.district, g.community) for g in grid_reference()
                        if g.name == GRID_NAMES[0])
        for grid in grid_reference():
            needed = names[grid.district, grid.community] > 1
            self.grids_of.setdefault(grid.district_code, []).append((grid, needed))
        self.districts = [code for code, *_ in PLACES]
        self.district_weights = [people for _, _, people, _ in PLACES]

    # --- people ---------------------------------------------------------------------------

    def _day(self, lo: date, hi: date) -> date:
        return date.fromordinal(self.rng.randint(lo.toordinal(), hi.toordinal()))

    def _born(self, year_lo: int, year_hi: int) -> date:
        return self._day(date(year_lo, 1, 1), min(date(year_hi, 12, 31), END))

    def _dwelling(self) -> Address:
        """A new address in a random grid, districts weighted by population."""
        rng = self.rng
        district = rng.choices(self.districts, self.district_weights)[0]
        grid, needed = rng.choice(self.grids_of[district])
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

    def _given(self, sex: str, first: str = "") -> str:
        pool = GIVEN[sex]
        if first:
            return first + self.rng.choice(pool)
        return "".join(self.rng.choices(pool, k=1 if self.rng.random() < 0.33 else 2))

    def _name(self, sex: str, ethnicity: str, family: str) -> str:
        """A name fitting sex and ethnic group; Tibetan and Yi ones sometimes with a dot."""
        rng = self.rng
        if ethnicity == "藏族":
            first, second = rng.sample(TIBETAN[sex], 2)
        elif ethnicity == "彝族":
            first, second = family, rng.choice(YI_GIVEN[sex])
        else:
            return family + self._given(sex)
        return first + (MIDDLE_DOT if rng.random() < 0.3 else "") + second

    def _family(self, ethnicity: str) -> str:
        if ethnicity == "彝族":
            return self.rng.choice(YI_CLANS)
        if ethnicity == "回族" and self.rng.random() < 0.7:
            return self.rng.choice(HUI_SURNAMES)
        return "" if ethnicity == "藏族" else self.rng.choice(SURNAMES)

    def _phones(self) -> tuple[str, ...]:
        """A mobile number or two (an older one still in some records): 1[3-9] + 9 digits."""
        rng = self.rng
        count = 2 if rng.random() < 0.11 else 1
        return tuple(f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}" for _ in range(count))

    def _person(self, sex: str, born: date, home: Address, ethnicity: str, floating: bool,
                family: str | None = None, name: str | None = None,
                phones: tuple[str, ...] = ()) -> Person:
        family = self._family(ethnicity) if family is None else family
        name = name or self._name(sex, ethnicity, family)
        region = self.rng.choice(OUTSIDE_REGIONS) if floating else home.grid[:6]
        if born < START:
            registered = self._day(START, START + timedelta(days=60))
        else:
            registered = min(born + timedelta(days=self.rng.randint(7, 60)), END)
        if floating and self.rng.random() < 0.3:
            registered = self._day(START + timedelta(days=61), END - timedelta(days=30))
        return Person(self._id_number(region, born, sex == "男"), name, sex, born, ethnicity,
                      family, home, floating, phones or self._phones(), registered)

    def _cluster_member(self, ethnicity: str) -> tuple[str, str, int] | None:
        """Now and then the next few heads share a common name and birth year (several 张伟)."""
        if ethnicity not in ("汉族", "回族"):
            return None
        if self.cluster_left == 0 and self.rng.random() < 1 / 150:
            name, sex = self.rng.choice(COMMON_NAMES)
            self.cluster = (name, sex, self.rng.randint(1965, 1998))
            self.cluster_left = self.rng.randint(2, 4)
        if self.cluster_left == 0:
            return None
        self.cluster_left -= 1
        return self.cluster

    def _couple(self, year_lo: int, year_hi: int, home: Address, ethnicity: str,
                floating: bool = False, family: str | None = None,
                cluster: bool = True) -> list[Person]:
        """Husband and wife, married when the younger was 20 to 30 (if that is before END)."""
        rng = self.rng
        common = self._cluster_member(ethnicity) if cluster else None
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
        wedding = _add_years(max(man.born, woman.born), rng.randint(20, 28))
        wedding += timedelta(days=rng.randint(0, 364))
        if wedding <= END - timedelta(days=30):
            man.spouse, woman.spouse, man.married, woman.married = woman, man, wedding, wedding
        return [man, woman]

    def _children(self, father: Person, mother: Person, count: int) -> list[Person]:
        """Children born after the wedding while the mother was 22 to 40; 1 birth in 80 twins."""
        rng = self.rng
        children: list[Person] = []
        earliest = (father.married or _add_years(mother.born, 21)) + timedelta(days=300)
        for _ in range(count):
            born = max(_add_years(mother.born, rng.randint(22, 40)), earliest)
            born += timedelta(days=rng.randint(0, 364))
            if born > END - timedelta(days=60):
                break
            earliest = born + timedelta(days=400)
            sex = rng.choice("男女")
            child = self._person(sex, born, father.home, father.ethnicity, False,
                                 family=father.family, phones=father.phones)
            children.append(child)
            if rng.random() < 1 / 80:
                children.append(self._twin(child, father))
        return children

    def _twin(self, child: Person, father: Person) -> Person:
        """Same birth date and address, a similar name (胡国强, 胡国富), a different number."""
        rng = self.rng
        sex = rng.choice("男女")
        if child.ethnicity in ("藏族", "彝族"):
            pool = TIBETAN[sex] if child.ethnicity == "藏族" else YI_GIVEN[sex]
            name = child.name[:-2] + rng.choice([p for p in pool if not child.name.endswith(p)])
        else:
            shared = rng.choice(GIVEN[child.sex])
            child.name = child.family + self._given(child.sex, shared)
            name = child.name
            while name == child.name:
                name = child.family + self._given(sex, shared)
        twin = self._person(sex, child.born, father.home, child.ethnicity, False,
                            family=child.family, name=name, phones=father.phones)
        twin.twin = child
        return twin

    def _members(self) -> list[Person]:
        """The people of one new household."""
        rng = self.rng
        ethnicity = rng.choices(*zip(*ETHNICITIES, strict=True))[0]
        home = self._dwelling()
        kind = rng.random()
        if kind < 0.2:  # floating: a worker or a couple from outside Ya'an (12% of people)
            if rng.random() < 0.25:
                return self._couple(1965, 2000, home, ethnicity, floating=True)
            return [self._single(1960, 2006, home, ethnicity, floating=True)]
        if kind < 0.46:
            young = rng.random() < 0.6
            return [self._single(1985 if young else 1936, 2004 if young else 1984, home,
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

    def _single(self, year_lo: int, year_hi: int, home: Address, ethnicity: str,
                floating: bool = False) -> Person:
        common = self._cluster_member(ethnicity)
        if common is not None:
            name, sex, year = common
            return self._person(sex, self._born(year, year), home, ethnicity, floating, name=name)
        return self._person(self.rng.choice("男女"), self._born(year_lo, year_hi), home,
                            ethnicity, floating)

    # --- lives and records ----------------------------------------------------------------

    def _life(self, person: Person) -> None:
        """Whether and when the person dies and moves house (after the backfill baseline)."""
        rng = self.rng
        age = _age(person.born, END)
        risk = next(risk for below, risk in DEATH_RISK if age < below)
        earliest = max(DEATHS[0], person.registered + timedelta(days=30))
        if age >= 25 and rng.random() < risk and earliest <= DEATHS[1]:
            person.died = self._day(earliest, DEATHS[1])
        lo = max(START + timedelta(days=365), person.registered + timedelta(days=60),
                 _add_years(person.born, 18))
        hi = person.last_day - timedelta(days=30)
        if rng.random() < MOVE_RATE and lo <= hi:
            person.moved = self._day(lo, hi)
            person.new_home = self._dwelling()
            while person.new_home.grid == person.home.grid:
                person.new_home = self._dwelling()

    def _serial(self, source: str, day: date) -> str:
        """The department's record id: prefix, date, and a number counting its records."""
        self.serials[source] += 1
        n = self.serials[source]
        if source == "police":
            return f"GA{day.year:04d}{day.month:02d}{day.day:02d}{n:07d}"
        if source == "civil_affairs":
            return f"MZ{day.year:04d}{day.month:02d}{n:08d}"
        return f"RS{day.year:04d}{day.month:02d}{day.day:02d}{n:08d}"

    def _police(self, person: Person, kind: str, day: date) -> Record:
        pen = self.noise["police"]
        row = {
            "变动流水号": self._serial("police", day),
            "人员编号": person.police_key,
            "公民身份号码": pen.id_number(person.id_number, person.born,
                                      _spouse_number(person, day)),
            "姓名": pen.name(person.name, person.minority),
            "性别": person.sex,
            "民族": person.ethnicity,
            "出生日期": pen.birth(person.born),
            "户籍地址": "" if person.floating else spell_address(person.home),
            "现住址": pen.address(person.address_on(day)),
            "联系电话": pen.phone(person.phones),
            "人员类别": "流动人口" if person.floating else "户籍人口",
            "变动类型": kind,
            "变动日期": pen.date(day),
        }
        return Record("police", row["变动流水号"], kind, day, person, row)

    def _civil(self, person: Person, kind: str, day: date, details: dict[str, Any]) -> Record:
        pen = self.noise["civil_affairs"]
        row = {
            "业务流水号": self._serial("civil_affairs", day),
            "业务类型": kind,
            "身份证号": pen.id_number(person.id_number, person.born, _spouse_number(person, day),
                                  cremation=kind == "火化登记"),
            "姓名": pen.name(person.name, person.minority),
            "性别": person.sex,
            "出生年月": pen.birth(person.born),
            "家庭住址": pen.address(person.address_on(day)),
            "联系方式": pen.phone(person.phones),
            "办理日期": pen.date(day),
            "业务内容": json.dumps(details, ensure_ascii=False),
        }
        return Record("civil_affairs", row["业务流水号"], kind, day, person, row)

    def _social(self, person: Person, kind: str, day: date, payload: dict[str, Any]) -> Record:
        pen, rng = self.noise["social_security"], self.rng
        obj = {
            "serial": self._serial("social_security", day),
            "event": kind,
            "aac001": person.social_key,
            "aac002": pen.id_number(person.id_number, person.born,
                                    _spouse_number(person, day)) or None,
            "aac003": pen.name(person.name, person.minority),
            "aac004": pen.sex(person.sex),
            "aac006": pen.birth(person.born) or None,
            "address": pen.address(person.address_on(day)) or None,
            "phone": pen.phone(person.phones) or None,
            "occurred": f"{day.isoformat()}T{rng.randint(8, 17):02d}:{rng.randrange(60):02d}"
                        ":00+08:00",
            "payload": payload,
        }
        return Record("social_security", obj["serial"], kind, day, person, obj)

    def _dibao(self, members: list[Person]) -> tuple[Person, date, date | None] | None:
        """低保认定 for one adult of the household; the employment date when one is planted."""
        rng = self.rng
        if members[0].floating or rng.random() >= DIBAO_RATE:
            return None
        day = self._day(BENEFITS_FROM, END - timedelta(days=200))
        adults = [p for p in members if _age(p.born, day) >= 18 and p.last_day > day]
        if not adults:
            return None
        applicant = rng.choice(adults)
        employed = day + timedelta(days=rng.randint(30, 180))
        planted = (_age(applicant.born, day) < 60 and employed <= applicant.last_day
                   and rng.random() < PLANTED["dibao_with_employment"])
        return applicant, day, employed if planted else None

    def _records(self, household: Household) -> None:
        """Every department's records of the household, and the findings planted in it."""
        rng = self.rng
        dibao = self._dibao(household.members)
        for person in household.members:
            cremated = person.died is not None and rng.random() < CREMATION_RATE
            deregistered = not cremated or rng.random() >= PLANTED["cremated_not_deregistered"]
            if cremated and not deregistered:
                household.findings.append(("cremated_not_deregistered", person))
            records = household.records
            records.extend(self._police_records(person, deregistered))
            records.extend(self._civil_records(person, household, dibao, cremated))
            records.extend(self._social_records(person, household, dibao))

    def _police_records(self, person: Person, deregistered: bool) -> Iterator[Record]:
        rng = self.rng
        if person.floating:
            yield self._police(person, "流动人口登记", person.registered)
            permit = person.registered + timedelta(days=rng.randint(15, 180))
            if rng.random() < 0.8 and permit <= person.last_day:
                yield self._police(person, "居住证办理", permit)
        else:
            first = "户籍登记" if person.born < START else "出生登记"
            yield self._police(person, first, person.registered)
        if person.moved is not None:
            yield self._police(person, "住址变更", person.moved)
        if person.died is not None and deregistered:
            yield self._police(person, "死亡注销", person.died + timedelta(days=rng.randint(5, 60)))

    def _civil_records(self, person: Person, household: Household,
                       dibao: tuple[Person, date, date | None] | None,
                       cremated: bool) -> Iterator[Record]:
        rng, spouse = self.rng, person.spouse
        if not person.floating:
            if (spouse is not None and person.married is not None and CIVIL_FROM <= person.married
                    and person.married <= min(person.last_day, spouse.last_day)):
                yield self._civil(person, "结婚登记", person.married,
                                  {"配偶姓名": spouse.name, "配偶身份证号": spouse.id_number})
            if dibao is not None and dibao[0] is person:
                amount = rng.choice((480, 560, 640, 720))
                yield self._civil(person, "低保认定", dibao[1],
                                  {"保障人口": len(household.members), "月保障金额": amount})
            eighty = max(_add_years(person.born, 80), BENEFITS_FROM)
            if eighty <= person.last_day and rng.random() < 0.7:
                day = min(eighty + timedelta(days=rng.randint(0, 180)), person.last_day)
                age = _age(person.born, day)
                amount = 100 if age < 90 else 200 if age < 100 else 300
                yield self._civil(person, "高龄津贴发放", day, {"年龄": age, "月发放金额": amount})
            start = max(BENEFITS_FROM, person.registered)
            if rng.random() < DISABILITY_RATE and start <= person.last_day:
                yield self._civil(person, "残疾人两项补贴", self._day(start, person.last_day),
                                  {"残疾等级": rng.choice(DISABILITY)})
        if cremated and person.died is not None:
            yield self._civil(person, "火化登记", person.died + timedelta(days=rng.randint(1, 5)),
                              {"死亡日期": person.died.isoformat(), "火化地点": "雅安市殡仪馆"})

    def _social_records(self, person: Person, household: Household,
                        dibao: tuple[Person, date, date | None] | None) -> Iterator[Record]:
        rng = self.rng
        arrived = person.registered if person.floating else SOCIAL_FROM
        working = (max(SOCIAL_FROM, _add_years(person.born, 18), arrived),
                   min(_add_years(person.born, 60), person.last_day))
        if working[0] <= working[1] and rng.random() < 0.6:
            day = working[0]
            if day != SOCIAL_FROM or rng.random() >= 0.35:
                day = self._day(*working)
            scheme = "城镇职工基本养老保险" if rng.random() < 0.8 else "城乡居民基本养老保险"
            yield self._social(person, "insurance.enrolled", day, {"险种": scheme})
        on_dibao = dibao[1] if dibao is not None and dibao[0] is person else None
        lo = max(BENEFITS_FROM, working[0])
        if lo <= working[1] and rng.random() < 0.2:
            day = self._day(lo, working[1])
            if on_dibao is None or day < on_dibao:  # later employment is only ever planted
                yield self._social(person, "employment.registered", day,
                                   {"单位名称": rng.choice(EMPLOYERS)})
        if dibao is not None and dibao[0] is person and dibao[2] is not None:
            household.findings.append(("dibao_with_employment", person))
            yield self._social(person, "employment.registered", dibao[2],
                               {"单位名称": rng.choice(EMPLOYERS)})
        retired = _add_years(person.born, 60 if person.sex == "男" else 55)
        if retired <= person.last_day and rng.random() < 0.7:
            day = min(retired + timedelta(days=rng.randint(0, 60)), person.last_day)
            yield self._social(person, "pension.started", day,
                               {"月养老金": rng.randrange(1500, 4800)})
            if person.died is not None:
                if rng.random() < PLANTED["deceased_with_active_pension"]:
                    household.findings.append(("deceased_with_active_pension", person))
                else:
                    stopped = person.died + timedelta(days=rng.randint(10, 120))
                    yield self._social(person, "pension.stopped", stopped, {"原因": "死亡"})

    def households(self) -> Iterator[Household]:
        """Make households until the city has its residents; the last ones may be singles."""
        stats = self.stats
        while stats.persons < self.total:
            members = self._members()
            if len(members) > self.total - stats.persons:
                members = [self._single(1930, 2004, self._dwelling(), "汉族")]
            for person in members:
                index = stats.persons
                person.key = f"T{index:07d}"
                person.police_key = f"R{person.home.grid[:6]}{index:08d}"
                person.social_key = str(
                    1_000_000_000 + (index * 7_919_000_003 + self.social_salt) % 9_000_000_000)
                stats.persons += 1
                self._life(person)
            household = Household(members)
            self._records(household)
            stats.households += 1
            stats.floating += sum(p.floating for p in members)
            stats.deceased += sum(p.died is not None for p in members)
            stats.moved += sum(p.moved is not None for p in members)
            stats.twins += sum(p.twin is not None for p in members)
            stats.records.update(r.source for r in household.records)
            stats.findings.update(kind for kind, _ in household.findings)
            yield household
        for source, pen in self.noise.items():
            stats.noise.update({f"{source}.{kind}": n for kind, n in pen.applied.items()})


def _spouse_number(person: Person, day: date) -> str | None:
    """The number a clerk may type by mistake: the spouse's, once they are married."""
    if person.spouse is None or person.married is None or person.married > day:
        return None
    return person.spouse.id_number


class _Output:
    """The city's files, written as households arrive; records shuffled in blocks."""

    def __init__(self, out_dir: Path, seed: int):
        self.out_dir = out_dir
        self.shuffle = random.Random(f"sanwang-shuffle:{seed}")
        self.files = {
            "police": open(out_dir / "police_population.csv", "w", encoding=police.CSV_ENCODING,
                           newline=""),
            "civil_affairs": open(out_dir / "civil_affairs.csv", "w", encoding="utf-8-sig",
                                  newline=""),
            "social_security": open(out_dir / "social_security.jsonl", "w", encoding="utf-8",
                                    newline="\n"),
            "persons": open(out_dir / "persons.csv", "w", encoding="utf-8", newline=""),
            "findings": open(out_dir / "findings.csv", "w", encoding="utf-8", newline=""),
        }
        self.truth_parts = {source: open(out_dir / f".truth.{source}.part", "w",
                                         encoding="utf-8", newline="") for source in SOURCES}
        self.csv = {name: csv.writer(file) for name, file in self.files.items()}
        self.truth = {source: csv.writer(file) for source, file in self.truth_parts.items()}
        self.csv["police"].writerow(police.CSV_HEADER)
        self.csv["civil_affairs"].writerow(civil_affairs.CSV_HEADER)
        self.csv["persons"].writerow(["person", "grid", "deceased"])
        self.csv["findings"].writerow(["kind", "person"])
        self.pending: dict[str, list[Record]] = {source: [] for source in SOURCES}

    def add(self, household: Household) -> None:
        """Write the household's people and findings; queue its records."""
        for person in household.members:
            self.csv["persons"].writerow([person.key, person.grid, int(person.died is not None)])
        for kind, person in household.findings:
            self.csv["findings"].writerow([kind, person.key])
        for record in household.records:
            self.pending[record.source].append(record)
        for source, records in self.pending.items():
            if len(records) >= BLOCK:
                self._flush(source)

    def _flush(self, source: str) -> None:
        records = self.pending[source]
        self.shuffle.shuffle(records)
        for record in records:
            if source == "social_security":
                self.files[source].write(json.dumps(record.row, ensure_ascii=False) + "\n")
            else:
                self.csv[source].writerow(record.row.values())
            self.truth[source].writerow([source, record.record_id, record.person.key])
        records.clear()

    def finish(self) -> None:
        """Flush, join the truth parts into truth.csv (police, civil, social), add grids.csv."""
        for source in SOURCES:
            self._flush(source)
        for file in [*self.files.values(), *self.truth_parts.values()]:
            file.close()
        with open(self.out_dir / "truth.csv", "wb") as truth:
            truth.write(b"source,record_id,person\r\n")
            for source in SOURCES:
                with open(self.out_dir / f".truth.{source}.part", "rb") as part:
                    shutil.copyfileobj(part, truth)
        with open(self.out_dir / "grids.csv", "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(GRID_HEADER)
            writer.writerows(grid.row() for grid in grid_reference())

    def close(self) -> None:
        """Close every file and remove the truth parts, finished or not."""
        for file in [*self.files.values(), *self.truth_parts.values()]:
            file.close()
        for source in SOURCES:
            (self.out_dir / f".truth.{source}.part").unlink(missing_ok=True)


def iter_households(persons: int, seed: int) -> Iterator[Household]:
    """The city household by household, each record with its true person, to check the noise."""
    return _City(persons, seed).households()


def generate_city(persons: int, seed: int, out_dir: Path) -> CityStats:
    """Write the sample's seven files for `persons` residents: load and score the hub at scale."""
    city = _City(persons, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = _Output(out_dir, seed)
    try:
        for household in city.households():
            output.add(household)
        output.finish()
    finally:
        output.close()
    return city.stats
