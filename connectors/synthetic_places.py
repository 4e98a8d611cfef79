"""The synthetic city's places: Ya'an's districts, townships and communities, their grids, and
the places outside the city that people come from (and keep their party membership in).

The grid reference (grids.csv) is the sample's: 360 grids, four per community, covering village
groups (组:1-3) or streets (街路:康乐路|育才路). Every address the generator writes lands in
exactly one of them, which is how persons.csv names where each person lives.
"""

from __future__ import annotations

from dataclasses import dataclass

GRID_HEADER = ["网格编码", "区县代码", "区县", "乡镇街道", "村社区", "网格名称", "覆盖范围"]

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

# Where floating residents come from (GB/T 2260), and the place there that keeps the party
# membership of those who joined at home: a street or community, written as the party writes it.
OUTSIDE_PLACES = {
    "500105": "重庆市江北区观音桥街道",
    "530102": "云南省昆明市五华区华山街道",
    "513401": "四川省凉山彝族自治州西昌市长安街道",
    "510722": "四川省绵阳市三台县潼川镇",
    "610113": "陕西省西安市雁塔区小寨路街道",
    "510107": "四川省成都市武侯区玉林街道玉林北路社区",
    "510104": "四川省成都市锦江区春熙路街道和平社区",
}
OUTSIDE_REGIONS = tuple(OUTSIDE_PLACES)
# Where Ya'an's own residents joined the party away from home (at university, in the army).
AWAY_PLACES = ("四川省成都市金牛区抚琴街道西南社区", "四川省成都市武侯区玉林街道玉林北路社区",
               "重庆市沙坪坝区天星桥街道", "四川省成都市郫都区犀浦街道")


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

    @property
    def community_code(self) -> str:
        """District, township and community: the grid code without the grid's own number."""
        return self.code[:12]

    @property
    def place(self) -> str:
        """The community as the party writes a membership's place: 雨城区青江街道和平社区."""
        return f"{self.district}{self.township}{self.community}"


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


def communities() -> dict[str, Grid]:
    """Each community's first grid, by community code (district + township + community)."""
    found: dict[str, Grid] = {}
    for grid in grid_reference():
        found.setdefault(grid.community_code, grid)
    return found
