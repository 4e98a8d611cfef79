"""How the party organisation (组织部, 党员信息管理系统) records the synthetic city's members.

party_members.csv (UTF-8 without BOM), one row per change of a member's record, the changes
being the member's fate (synthetic_fates.py): 入党 as 预备党员, 转正 a year later, 组织关系转入
when the membership comes to where the member lives, 死亡 for most dead members. Each row
repeats the member's identity, 入党日期 and the branch keeping the membership (所在党组织,
中共<place>支部委员会) with its place (组织关系所在地). Spellings and mistakes:
synthetic_rates, the level's rates of "party".
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from connectors.synthetic_model import Fate, PartyChange, Person, Record
from connectors.synthetic_noise import Noise, format_date
from connectors.synthetic_rates import SourceNoise


class PartyWriter:
    """Writes the party system's rows about one member at a time."""

    source = "party"

    def __init__(self, rng: random.Random, salt: int, rates: SourceNoise):
        self.rng = rng
        self.pen = Noise(self.source, rng, rates)
        self.count = 0
        self.salt = salt

    def member_key(self, index: int) -> str:
        """党员编号: the party system's own number, stable for the member."""
        return f"DY{(index * 7_919_000_003 + self.salt) % 10 ** 12:012d}"

    def records(self, person: Person, fate: Fate) -> Iterator[Record]:
        """The member's changes; none for anyone else."""
        for change in fate.party:
            yield self._row(person, fate.party[0], change)

    def _row(self, person: Person, joined: PartyChange, change: PartyChange) -> Record:
        pen, day = self.pen, change.day
        self.count += 1
        row = {
            "记录号": f"DJ{day.year:04d}{day.month:02d}{day.day:02d}{self.count:06d}",
            "党员编号": person.party_key,
            "姓名": pen.name(person.name, person.minority),
            "性别": pen.sex(person.sex),
            "公民身份号码": pen.id_number(person.id_number, person.born),
            "出生日期": pen.birth(person.born),
            "民族": person.ethnicity,
            "入党日期": format_date(joined.day, "dot"),
            "党员类别": "正式党员" if change.full else "预备党员",
            "所在党组织": f"中共{change.place}支部委员会",
            "组织关系所在地": change.place,
            "变动类型": change.kind,
            "变动日期": day.isoformat(),
            "联系电话": pen.phone(person.phones),
        }
        return Record(self.source, row["记录号"], change.kind, day, person, row,
                      community=change.community)
