"""Parse Ya'an addresses into their parts and place them in a grid (pure, no I/O).

The gazetteer is built from grids.csv rows handed in as data, so this module never reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import msgspec
from msgspec.structs import replace

from streams.normalize import CHINESE_NUMERAL, clean_text, parse_numeral

# GB/T 2260 districts and counties of 雅安市; 名山 was a county until 2012.
YAAN_DISTRICTS = ("雨城区", "名山区", "荥经县", "汉源县", "石棉县", "天全县", "芦山县", "宝兴县")
_DISTRICT_ALIASES = {"名山县": "名山区"}
_COMMUNITY_SUFFIX = "社区居民委员会|社区居委会|居民委员会|居委会|村民委员会|村委会|社区|村"
_NUM = f"(?:[0-9]+|{CHINESE_NUMERAL})"

_ADDRESS = re.compile(
    rf"""
    (?:四川省?)?(?:雅安市?)?
    (?P<district>{"|".join([*YAAN_DISTRICTS, *_DISTRICT_ALIASES])})?
    (?P<township>[\u4e00-\u9fff]{{1,5}}?(?:街道办事处|街道办|街道|镇|乡))?
    (?P<community>[\u4e00-\u9fff]{{1,8}}?(?:{_COMMUNITY_SUFFIX})(?!社区|村))?
    (?:(?P<group>{_NUM})(?:村民小组|组|社(?!区)|队))?
    (?P<street>[\u4e00-\u9fff]{{1,8}}?(?:大道|大街|路|街|巷|胡同))?
    (?:(?P<number>[0-9]+(?:[-之][0-9]+)?|{CHINESE_NUMERAL})号(?!楼))?
    (?P<rest>(?![路街道巷号组社区村队]).*)
    """,
    re.VERBOSE,
)
# another province, autonomous region or prefecture, or city: a place outside 雅安
_OTHER_PLACE = re.compile(r"(?:[\u4e00-\u9fff]{2,3}?省"
                          r"|[\u4e00-\u9fff]{2,8}?(?:自治区|自治州|地区|盟)"
                          r"|[\u4e00-\u9fff]{2,4}?市)")
_SUFFIXES = (
    ("街道办事处", "街道"), ("街道办", "街道"), ("社区居民委员会", "社区"), ("社区居委会", "社区"),
    ("居民委员会", "社区"), ("居委会", "社区"), ("村民委员会", "村"), ("村委会", "村"),
)  # fmt: skip
_REST_NUMERAL = re.compile(rf"({CHINESE_NUMERAL})(?=栋|单元|楼|层|室)")


class Address(msgspec.Struct, frozen=True):
    """An address split into the four grid levels, group, street and number, plus the rest."""

    district: str | None = None
    township: str | None = None
    community: str | None = None
    group: int | None = None
    street: str | None = None
    house_number: str | None = None
    rest: str = ""

    def key(self) -> str:
        """Canonical text for equality: province, city and township left out, as spellings vary."""
        parts = (
            self.district or "",
            self.community or "",
            f"{self.group}组" if self.group is not None else "",
            self.street or "",
            f"{self.house_number}号" if self.house_number else "",
            self.rest,
        )
        return "|".join(parts)


def _suffix(name: str | None) -> str | None:
    """Shorten the long administrative suffixes (街道办事处 -> 街道, 村委会 -> 村)."""
    if name is None:
        return None
    for long, short in _SUFFIXES:
        if name.endswith(long):
            stem = name.removesuffix(long)
            return stem if stem.endswith(short) else stem + short  # 太平村村委会 -> 太平村
    return name


def _arabic(numeral: str) -> str:
    """Write a numeral in Arabic digits (十二 -> 12); text that is not a numeral stays as it is."""
    value = parse_numeral(numeral)
    return numeral if value is None else str(value)


def _rest(text: str) -> str:
    """Unify building, unit and room spellings (七栋, 7幢, 7号楼) so that rests compare."""
    text = text.replace("号楼", "栋").replace("幢", "栋")
    text = _REST_NUMERAL.sub(lambda m: _arabic(m.group(1)), text)
    return re.sub(r"单元([0-9]+)号?$", r"单元\1室", text)


@lru_cache(maxsize=1 << 16)  # the merge parses a resident's addresses again on every change
def parse_address(text: str | None) -> Address | None:
    """Split one address spelling into its parts, without a gazetteer; None when blank."""
    if text is None:
        return None
    clean = clean_text(text).strip(",。")
    if not clean:
        return None
    remainder = re.sub(r"^(?:四川省?)?(?:雅安市?)?", "", clean)
    if not remainder.startswith(YAAN_DISTRICTS) and _OTHER_PLACE.match(remainder):
        return Address(rest=clean)  # outside 雅安: kept whole, never placed in a grid
    match = _ADDRESS.fullmatch(clean)
    if match is None:
        return Address(rest=_rest(clean))
    district = match["district"]
    group = parse_numeral(match["group"]) if match["group"] else None
    number = _arabic(match["number"]).replace("之", "-") if match["number"] else None
    return Address(
        district=_DISTRICT_ALIASES.get(district, district) if district else None,
        township=_suffix(match["township"]),
        community=_suffix(match["community"]),
        group=group,
        street=match["street"],
        house_number=number,
        rest=_rest(match["rest"]),
    )


@dataclass(frozen=True)
class Grid:
    """One grid of grids.csv: its place in the four levels and the addresses it covers."""

    code: str
    district: str
    township: str
    community: str
    groups: range | None = None
    streets: frozenset[str] = frozenset()

    def covers(self, address: Address) -> bool:
        """Whether the 覆盖范围 rule (组:1-3 or 街路:康乐路|育才路) takes in this address."""
        if self.groups is not None:
            return address.group is not None and address.group in self.groups
        return address.street is not None and address.street in self.streets


def _coverage(rule: str) -> tuple[range | None, frozenset[str]]:
    """Read a 覆盖范围 cell: 组:1-3 (or 组:5) and 街路:康乐路|育才路."""
    kind, _, value = clean_text(rule).partition(":")
    if kind == "组":
        low, _, high = value.partition("-")
        first, last = parse_numeral(low), parse_numeral(high or low)
        if first is None or last is None:
            raise ValueError(f"unreadable group range {rule!r}")
        return range(first, last + 1), frozenset()
    if kind == "街路":
        return None, frozenset(s for s in value.split("|") if s)
    raise ValueError(f"unknown 覆盖范围 {rule!r}")


@dataclass(frozen=True)
class Gazetteer:
    """The grid reference as data: which districts, townships and communities exist, and grids."""

    grids: tuple[Grid, ...]
    # answers already worked out: the merge asks the same few thousand places again and again
    _places: dict[tuple[str | None, ...], set[tuple[str, str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _grid_codes: dict[tuple[object, ...], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]]) -> Gazetteer:
        """Build from grids.csv rows (dicts keyed by its Chinese headers), as read by the caller."""
        grids = []
        for row in rows:
            groups, streets = _coverage(row["覆盖范围"])
            grids.append(
                Grid(
                    code=row["网格编码"].strip(),
                    district=clean_text(row["区县"]),
                    township=_suffix(clean_text(row["乡镇街道"])) or "",
                    community=_suffix(clean_text(row["村社区"])) or "",
                    groups=groups,
                    streets=streets,
                )
            )
        return cls(tuple(grids))

    def places(self, address: Address) -> set[tuple[str, str, str]]:
        """The (district, township, community) triples that agree with what the address names."""
        key = (address.district, address.township, address.community)
        if key not in self._places:
            self._places[key] = {
                (g.district, g.township, g.community)
                for g in self.grids
                if (address.district in (None, g.district))
                and (address.township in (None, g.township))
                and (address.community in (None, g.community))
            }
        return set(self._places[key])

    def complete(self, address: Address, spellings: Iterable[Address] = ()) -> Address:
        """Fill missing levels from the community, or from spellings of the same dwelling."""
        borrowed = {
            (s.district, s.township)
            for s in spellings
            if s.township is not None and _same_dwelling(address, s)
        }
        if address.township is None and len(borrowed) == 1:
            district, township = borrowed.pop()
            address = replace(address, district=address.district or district, township=township)
        if address.community is None and address.township is None:
            return address
        pairs = {(d, t) for d, t, _ in self.places(address)}
        if len(pairs) == 1:
            district, township = pairs.pop()
            return replace(address, district=district, township=township)
        districts = {d for d, _ in pairs}
        if len(districts) == 1 and address.district is None:
            return replace(address, district=districts.pop())
        return address


def normalize_address(
    text: str | None, gazetteer: Gazetteer | None = None, spellings: Iterable[Address] = ()
) -> Address | None:
    """Parse an address; with the gazetteer, fill the levels its spelling left out.

    spellings: the same person's other addresses (already parsed); one naming the same dwelling
    with its township settles a community name that two townships share (雨城区东街村).
    """
    address = parse_address(text)
    if address is None or gazetteer is None:
        return address
    return gazetteer.complete(address, spellings)


OUTSIDE = "outside the city"


def community_of(text: str, gazetteer: Gazetteer) -> str | None:
    """Which community a place names (`district/township/community`), OUTSIDE for a place in
    another city or province, None when the grid reference cannot tell."""
    clean = clean_text(text).strip(",。")
    remainder = re.sub(r"^(?:四川省?)?(?:雅安市?)?", "", clean)
    if not remainder.startswith(YAAN_DISTRICTS) and _OTHER_PLACE.match(remainder):
        return OUTSIDE
    address = normalize_address(clean, gazetteer)
    if address is None or address.community is None:
        return None
    places = gazetteer.places(address)
    return "/".join(places.pop()) if len(places) == 1 else None


def assign_grid(address: Address | None, grids: Gazetteer) -> str | None:
    """The grid code whose 覆盖范围 covers the address; None unless exactly one grid fits."""
    if address is None or address.community is None:
        return None
    key = (address.district, address.township, address.community, address.group, address.street)
    if key not in grids._grid_codes:
        codes = {
            g.code
            for g in grids.grids
            if g.community == address.community
            and address.district in (None, g.district)
            and address.township in (None, g.township)
            and g.covers(address)
        }
        grids._grid_codes[key] = codes.pop() if len(codes) == 1 else None
    return grids._grid_codes[key]


def _conflict(a: Address, b: Address) -> bool:
    """Whether two addresses name different places at some level both of them give."""
    for level in ("district", "township", "community", "group", "street"):
        x, y = getattr(a, level), getattr(b, level)
        if x is not None and y is not None and x != y:
            return True
    return False


def _same_dwelling(a: Address, b: Address) -> bool:
    """Same community, group, street, number and flat, and no level contradicting the other."""
    same = a.community is not None and a.house_number is not None and not _conflict(a, b)
    return same and all(
        getattr(a, f) == getattr(b, f)
        for f in ("community", "group", "street", "house_number", "rest")
    )


def same_place(a: Address | None, b: Address | None) -> float:
    """How surely two addresses name the same dwelling: 1 same, 0 conflicting, between partial."""
    if a is None or b is None or _conflict(a, b):
        return 0.0
    if a.key() == b.key() or _same_dwelling(a, b):
        return 1.0
    if a.community is None or b.community is None:
        same_town = a.township is not None and a.township == b.township
        return 0.3 if same_town else 0.1 if a.district and a.district == b.district else 0.0
    if a.house_number and a.house_number == b.house_number:
        return 0.9 if not a.rest or not b.rest else 0.7  # same house, flat missing or differing
    return 0.5  # same village or community (and group or street when both give one)
