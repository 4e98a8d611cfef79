"""The synthetic city: deterministic, in the contract's formats, honest truth, realistic noise,
and findings.csv listing exactly the cases the five departments' records show."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import connectors.synthetic_rates as synthetic_rates
from connectors.csv_source import read_csv
from connectors.fields import id_sex, parse_date, parse_id_number
from connectors.jsonl_source import read_jsonl
from connectors.synthetic_city import generate_city, iter_households
from connectors.synthetic_fates import (
    CERTIFIED,
    CREMATED,
    NAMELESS,
    NAMELESS_TWINS,
    UNREGISTERED_BIRTH,
)
from connectors.synthetic_findings import LISTED_KINDS
from connectors.synthetic_model import START, Household, Person, Record
from connectors.synthetic_noise import (
    CHINESE_NUMERALS,
    HOMOPHONES,
    MIDDLE_DOT,
    TRADITIONAL,
    legacy_number,
)
from connectors.synthetic_places import grid_reference
from connectors.synthetic_rates import NOISE, SourceNoise
from schemas.departments import department
from schemas.registry import validation_errors
from streams.findings import KINDS
from tests.samples import EXPORTS, SAMPLE, SAMPLE5, encoding, header, mapping

PERSONS, SEED = 5000, 20260101
FILES = [*EXPORTS.values(), "truth.csv", "persons.csv", "findings.csv", "grids.csv"]
FIELDS = {  # source -> (ID, name, birth date, address, phone) columns
    "police": ("公民身份号码", "姓名", "出生日期", "现住址", "联系电话"),
    "civil_affairs": ("身份证号", "姓名", "出生年月", "家庭住址", "联系方式"),
    "social_security": ("aac002", "aac003", "aac006", "address", "phone"),
    "party": ("公民身份号码", "姓名", "出生日期", None, "联系电话"),
    "health": ("身份证号", "姓名", "出生日期", "家庭住址", None),
}
KIND_COLUMN = {"police": "变动类型", "civil_affairs": "业务类型", "social_security": "event",
               "party": "变动类型", "health": "证明类型"}
DEATHS = {"死亡注销", "火化登记", "死亡医学证明"}  # "the hub knows the person died"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(PERSONS, SEED, out)
    return out


@pytest.fixture(scope="module")
def households() -> list[Household]:
    return list(iter_households(PERSONS, SEED))


def _records(households: list[Household]) -> Iterator[Record]:
    return (r for h in households for r in h.records)


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


def _events(city: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every record as the hub's own declarations read and map it (a dead letter fails)."""
    for source, name in EXPORTS.items():
        path = city / name
        records = (read_jsonl(path) if name.endswith(".jsonl")
                   else read_csv(path, encoding(source), header(source)))
        to_event = mapping(source)
        for record in records:
            assert record.columns is not None, (source, record.reason, record.error)
            yield source, to_event(record.columns, record.origin)


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first, second, other = (generate_city(800, seed, tmp_path / name)
                            for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    assert first == second and first.persons == 800
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert other != first
    for name in EXPORTS.values():
        ours, theirs = ((tmp_path / d / name).read_bytes() for d in ("a", "c"))
        assert ours != theirs
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(FILES)


def test_files_have_the_samples_headers_encodings_and_grids(city: Path) -> None:
    for name in FILES:
        ours, sample = (d / name for d in (city, SAMPLE5))
        if name.endswith(".csv"):
            assert ours.read_bytes().split(b"\r\n")[0] == sample.read_bytes().split(b"\r\n")[0]
    assert (city / "civil_affairs.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    (city / "police_population.csv").read_bytes().decode("gb18030")
    for name in ("party_members.csv", "health_certificates.csv"):
        text = (city / name).read_bytes()
        assert not text.startswith(b"\xef\xbb\xbf")
        text.decode("utf-8")
        assert text.count(b"\n") == text.count(b"\r\n") > 100  # CRLF line ends
    line = json.loads((city / "social_security.jsonl").read_text("utf-8").splitlines()[0])
    assert list(line) == list(json.loads((SAMPLE / "social_security.jsonl").read_text(
        "utf-8").splitlines()[0]))
    assert (city / "grids.csv").read_bytes() == (SAMPLE / "grids.csv").read_bytes()


def test_every_record_of_the_five_maps_with_zero_errors(city: Path) -> None:
    counts: Counter[str] = Counter()
    for source, event in _events(city):
        assert validation_errors(event) == []
        counts[source] += 1
    assert set(counts) == set(EXPORTS) and min(counts.values()) > 300


def test_truth_covers_every_record_exactly_once(city: Path) -> None:
    records = Counter((source, e["subject"]) for source, e in _events(city))
    truth = _csv(city / "truth.csv")
    assert Counter((t["source"], t["record_id"]) for t in truth) == records
    assert max(records.values()) == 1
    persons = _csv(city / "persons.csv")
    assert [p["person"] for p in persons] == [f"T{i:07d}" for i in range(PERSONS)]
    assert {t["person"] for t in truth} == {p["person"] for p in persons}
    assert {p["deceased"] for p in persons} == {"0", "1"}
    sources: dict[str, set[str]] = defaultdict(set)
    for t in truth:
        sources[t["person"]].add(t["source"])
    health_only = [person for person, known in sources.items() if known == {"health"}]
    assert len(health_only) > 3  # babies known only to their birth certificate


def _resolver() -> Callable[[str], set[str]]:
    """Address -> the grids it can be in, read from grids.csv's coverage rules alone."""
    grids = grid_reference()
    numerals = {n: i for i, n in enumerate(CHINESE_NUMERALS) if n}

    def resolve(address: str) -> set[str]:
        text = re.sub(r"^(四川省)?雅安市", "", address)
        found = set()
        for grid in grids:
            if not text.startswith(grid.district):
                continue
            rest = text[len(grid.district):].removeprefix(grid.township)
            if not rest.startswith(grid.community):
                continue
            rest = rest[len(grid.community):]
            kind, _, cover = grid.coverage.partition(":")
            if kind == "组":
                group = re.match(r"([0-9]+|[一二三四五六七八九十]+)组", rest)
                if group is None:
                    continue
                number = numerals.get(group[1]) or int(group[1])
                lo, hi = (int(n) for n in cover.split("-"))
                if lo <= number <= hi:
                    found.add(grid.code)
            elif any(rest.startswith(street) for street in cover.split("|")):
                found.add(grid.code)
        return found

    return resolve


def _membership_place(place: str) -> str:
    """组织关系所在地 -> its community code (district, township, community); "" outside."""
    districts = {g.district for g in grid_reference()}
    if not place.startswith(tuple(districts)):
        return ""
    codes = {g.code[:12] for g in grid_reference()
             if place == g.district + g.township + g.community}
    assert len(codes) == 1, place
    return codes.pop()


def test_every_address_lands_in_one_grid_and_persons_csv_names_it(city: Path) -> None:
    resolve = _resolver()
    truth = {(t["source"], t["record_id"]): t["person"] for t in _csv(city / "truth.csv")}
    latest: dict[str, tuple[str, str]] = {}
    for source, event in _events(city):
        parsed = event["data"]["parsed"]
        for key in ("residence_address", "hukou_address", "address"):
            if parsed.get(key):
                assert len(resolve(parsed[key])) == 1, parsed[key]
        if source == "party":
            _membership_place(parsed["membership_place"])
        person = truth[source, parsed["record_id"]]
        if source == "police" and parsed["change_type"] != "死亡注销":
            latest[person] = max(latest.get(person, ("", "")),
                                 (parsed["occurred"], parsed["residence_address"]))
        elif source == "health" and person not in latest:  # babies known only to health
            latest[person] = ("", parsed["address"])
    for person in _csv(city / "persons.csv"):
        assert resolve(latest[person["person"]][1]) == {person["grid"]}


@dataclasses.dataclass
class _Seen:
    """One person's records, read from the files and truth.csv alone."""

    kinds: set[str] = dataclasses.field(default_factory=set)
    police: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (day, community)
    party: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # +change
    pension: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    dibao: list[str] = dataclasses.field(default_factory=list)
    jobs: list[str] = dataclasses.field(default_factory=list)


def _seen_in_records(city: Path) -> dict[str, _Seen]:
    resolve = _resolver()
    truth = {(t["source"], t["record_id"]): t["person"] for t in _csv(city / "truth.csv")}
    seen: dict[str, _Seen] = defaultdict(_Seen)
    for source, event in _events(city):
        raw, parsed = event["data"]["raw"], event["data"]["parsed"]
        kind, day = raw[KIND_COLUMN[source]], parsed["occurred"][:10]
        person = seen[truth[source, parsed["record_id"]]]
        person.kinds.add(kind)
        if source == "police":
            (grid,) = resolve(parsed["residence_address"])
            person.police.append((day, grid[:12]))
        elif source == "party":
            person.party.append((day, kind, _membership_place(parsed["membership_place"])))
        elif kind.startswith("pension."):
            person.pension.append((day, kind))
        elif kind == "低保认定":
            person.dibao.append(day)
        elif kind == "employment.registered":
            person.jobs.append(day)
    return seen


def _findings_in_records(seen: dict[str, _Seen]) -> set[tuple[str, str]]:
    """Every finding kind the contract defines (but elderly_living_alone, the store's view
    over neighbours), judged from the records alone by the contract's definitions."""
    found = set()
    for key, person in seen.items():
        known_dead = bool(person.kinds & DEATHS)
        deregistered = "死亡注销" in person.kinds
        pension = max(person.pension, default=("", ""))[1]
        party = max(person.party, default=("", "", ""))
        member = bool(person.party) and party[1] != "死亡"
        where = max(person.police, default=("", None))[1]
        cases = {
            "deceased_with_active_pension": known_dead and pension == "pension.started",
            "cremated_not_deregistered": "火化登记" in person.kinds and not deregistered,
            "dibao_with_employment": bool(person.dibao and person.jobs),
            "party_member_living_elsewhere": (member and not known_dead
                                              and where is not None and party[2] != where),
            "deceased_party_member_on_roll": member and known_dead,
            "death_certified_not_deregistered": ("死亡医学证明" in person.kinds
                                                 and not deregistered),
            "birth_not_registered": "出生医学证明" in person.kinds and not person.police,
        }
        found |= {(kind, key) for kind, holds in cases.items() if holds}
    return found


def test_findings_csv_lists_exactly_the_cases_the_records_show(city: Path) -> None:
    listed = [(f["kind"], f["person"]) for f in _csv(city / "findings.csv")]
    assert len(listed) == len(set(listed))
    seen = _seen_in_records(city)
    assert set(listed) == _findings_in_records(seen)
    assert set(LISTED_KINDS) == set(KINDS) - {"elderly_living_alone"}
    assert len({kind for kind, _ in listed}) >= len(LISTED_KINDS) - 1  # rare: dead members
    deceased = {p["person"] for p in _csv(city / "persons.csv") if p["deceased"] == "1"}
    dead_kinds = {"deceased_with_active_pension", "cremated_not_deregistered",
                  "deceased_party_member_on_roll", "death_certified_not_deregistered"}
    assert {person for kind, person in listed if kind in dead_kinds} <= deceased
    jobs_first = {min(seen[p].jobs) < min(seen[p].dibao)
                  for kind, p in listed if kind == "dibao_with_employment"}
    assert jobs_first == {True, False}  # a job registered before the 低保, and after


def test_deaths_are_known_and_nothing_happens_after_them(households: list[Household]) -> None:
    after_death = DEATHS | {"pension.stopped", "死亡"}
    fates: Counter[str] = Counter()
    for household in households:
        for person in household.members:
            kinds = [r.kind for r in household.records if r.person is person]
            if person.died is None:
                assert not after_death & set(kinds)
                continue
            assert DEATHS & set(kinds)  # the hub knows of every death
            fates.update(k for k in ("火化登记", "死亡医学证明") if k in kinds)
            fates["deaths"] += 1
            after = [r.kind for r in household.records if r.person is person
                     and r.day > person.died]
            assert set(after) <= after_death
    for kind, rate in (("火化登记", CREMATED), ("死亡医学证明", CERTIFIED)):
        assert abs(fates[kind] - rate * fates["deaths"]) <= _slack(fates["deaths"], rate)


def _slack(n: int, rate: float) -> float:
    """Four standard deviations of a binomial count, and a little more."""
    return 4 * math.sqrt(n * rate * (1 - rate)) + 3


def test_births_have_certificates_naming_the_parents(households: list[Household]) -> None:
    counts: Counter[str] = Counter()
    for household in households:
        for person in household.members:
            if person.born < START or person.mother is None:
                continue
            (certificate,) = [r for r in household.records
                              if r.person is person and r.kind == "出生医学证明"]
            registered = any(r.source == "police" for r in household.records
                             if r.person is person)
            row = certificate.row
            assert row["身份证号"] == "" and row["母亲姓名"] == person.mother.name
            assert person.father is not None and row["父亲姓名"] == person.father.name
            twins = person.twin is not None or any(p.twin is person for p in household.members)
            if twins:
                assert registered
                counts["twins"] += 1
                counts["twins nameless"] += row["姓名"] == ""
                continue
            counts["singletons"] += 1
            counts["unregistered"] += not registered
            counts["nameless"] += row["姓名"] == ""
            assert row["姓名"] in ("", person.name)
            if not registered:
                assert {r.source for r in household.records if r.person is person} == {
                    "health"}
    n = counts["singletons"]
    for kind, rate in (("unregistered", UNREGISTERED_BIRTH), ("nameless", NAMELESS)):
        assert abs(counts[kind] - rate * n) <= _slack(n, rate), (kind, counts)
    pairs = counts["twins"] // 2
    assert counts["twins nameless"] % 2 == 0 and counts["twins nameless"] > 0
    assert abs(counts["twins nameless"] // 2 - NAMELESS_TWINS * pairs) <= _slack(
        pairs, NAMELESS_TWINS)


def test_party_members_join_then_become_full_members(households: list[Household]) -> None:
    members: Counter[tuple[str, bool]] = Counter()
    adults: Counter[tuple[str, bool]] = Counter()
    changes: Counter[str] = Counter()
    for household in households:
        for person, fate in household.fates.items():
            if person.born.year > 2004:
                continue
            old = person.born.year < 1970
            adults[person.sex, old] += 1
            members[person.sex, old] += bool(fate.party)
            rows = [r for r in household.records if r.person is person and r.source == "party"]
            assert [r.kind for r in rows] == [c.kind for c in fate.party]
            if not rows:
                continue
            changes.update(r.kind for r in rows)
            assert rows[0].kind == "入党" and rows[0].row["党员类别"] == "预备党员"
            assert {r.row["入党日期"] for r in rows} == {rows[0].day.strftime("%Y.%m.%d")}
            assert [r.day for r in rows] == sorted({r.day for r in rows})
            if len(rows) > 1 and rows[1].kind == "转正":
                assert 365 <= (rows[1].day - rows[0].day).days <= 395
                assert all(r.row["党员类别"] == "正式党员" for r in rows[1:])
            assert rows[-1].day <= person.last_day or rows[-1].kind == "死亡"
    share = {key: members[key] / adults[key] for key in adults}
    assert share["男", True] > share["男", False] > share["女", False]
    assert 0.05 < sum(members.values()) / sum(adults.values()) < 0.12
    assert changes["组织关系转入"] > 10 and changes["死亡"] > 0


def test_id_numbers_are_unique_valid_and_match_sex_and_birth(
        households: list[Household]) -> None:
    people = [p for h in households for p in h.members]
    assert len({p.id_number for p in people}) == len(people) == PERSONS
    for person in people:
        number = parse_id_number(person.id_number)
        assert number is not None and number.normalized == person.id_number
        assert id_sex(person.id_number) == {"男": "M", "女": "F"}[person.sex]
        assert person.id_number[6:14] == person.born.strftime("%Y%m%d")


def _id_noise(written: str | None, true: str, spouse: str | None = None) -> str:
    """Which mistake (if any) a written ID number shows, against the true one."""
    if not written:
        return "id_missing"
    written = unicodedata.normalize("NFKC", written)
    if spouse is not None and written.upper() == spouse:
        return "id_spouse"
    if len(written) == 15:
        assert written == legacy_number(true)
        return "id_legacy"
    if written.upper() == true:
        return "ok"
    wrong = [i for i in range(18) if written[i] != true[i]]
    if len(wrong) == 2 and wrong[1] == wrong[0] + 1 and written[wrong[0]] == true[wrong[1]]:
        return "id_swap"
    assert len(wrong) == 1, (written, true)
    return "id_digit"


def _with_number(record: Record) -> bool:
    """Whether the record carries its person's ID number (a birth certificate does not)."""
    return record.kind != "出生医学证明"


def test_written_id_numbers_are_valid_unless_deliberately_noisy(
        households: list[Household]) -> None:
    kinds: Counter[str] = Counter()
    for record in filter(_with_number, _records(households)):
        written = record.row[FIELDS[record.source][0]]
        spouse = record.person.spouse
        kind = _id_noise(written, record.person.id_number,
                         spouse.id_number if spouse is not None else None)
        kinds[kind] += 1
        number = parse_id_number(written)
        if kind in ("ok", "id_legacy"):
            assert number is not None and number.normalized == record.person.id_number
        elif kind == "id_spouse":
            assert number is not None and spouse is not None
            assert number.normalized == spouse.id_number
        elif kind in ("id_digit", "id_swap"):
            assert number is not None and number.normalized is None
    assert kinds["ok"] > 0.95 * sum(kinds.values())


def test_twins_and_common_names_are_different_people(
        city: Path, households: list[Household]) -> None:
    twins = [p for h in households for p in h.members if p.twin is not None]
    assert len(twins) >= 5
    for twin in twins:
        other = twin.twin
        assert other is not None and (twin.born, twin.home) == (other.born, other.home)
        assert twin.id_number != other.id_number and twin.key != other.key
        assert twin.name != other.name and twin.name[:2] == other.name[:2]
    truth = {t["record_id"]: t["person"] for t in _csv(city / "truth.csv")}
    by_birth_home, by_name_year = defaultdict(set), defaultdict(set)
    for row in _csv(city / "police_population.csv", "gb18030"):
        if row["变动类型"] in ("户籍登记", "出生登记"):
            born = parse_date(row["出生日期"])
            assert born is not None
            person = (truth[row["变动流水号"]], parse_id_number(row["公民身份号码"]).normalized)
            by_birth_home[born.iso(), row["户籍地址"]].add(person)
            by_name_year[row["姓名"], born.year].add(person)
    for groups, at_least in ((by_birth_home, len(twins)), (by_name_year, 5)):
        shared = [people for people in groups.values() if len(people) > 1]
        assert len(shared) >= at_least
        for people in shared:  # different people, with different numbers
            valid = [number for _, number in people if number is not None]
            assert len({key for key, _ in people}) == len(people)
            assert len(set(valid)) == len(valid)
    common = {"张伟", "王伟", "王芳", "李娜", "刘洋", "李静", "张敏", "李强", "张磊", "刘伟"}
    assert len([1 for (name, _), people in by_name_year.items()
                if name in common and len(people) > 1]) >= 5


def _name_noise(written: str, person: Person) -> set[str]:
    """Which name noises a written name shows, against the person's true name."""
    found = set()
    if written.endswith(" "):
        found.add("name_trailing_space")
        written = written[:-1]
    if " " in written:
        found.add("name_space")
        written = written.replace(" ", "")
    if (MIDDLE_DOT in written) != (MIDDLE_DOT in person.name):
        found.add("name_dot")
        written, true = written.replace(MIDDLE_DOT, ""), person.name.replace(MIDDLE_DOT, "")
    else:
        true = person.name
    for typed, meant in zip(written, true, strict=True):
        if typed == meant:
            continue
        sounds = HOMOPHONES.get(meant, "")
        if typed == TRADITIONAL.get(meant):
            found.add("name_traditional")
        elif typed in sounds:
            found.add("name_homophone")
        else:
            assert any(typed == TRADITIONAL.get(s) for s in sounds), (written, true)
            found |= {"name_homophone", "name_traditional"}
    return found


def _id_flags(record: Record, flags: dict[str, list[bool]]) -> None:
    """The ID number's noises, each against the records that could have had it."""
    person, row = record.person, record.row
    written = row[FIELDS[record.source][0]] or ""
    spouse = person.spouse if person.married is not None and person.married <= record.day else None
    kind = _id_noise(written, person.id_number, spouse.id_number if spouse else None)
    missing = kind == "id_missing"
    if record.kind == "火化登记":
        flags["id_missing_cremation"].append(missing)
    elif record.source == "party":
        assert person.born.year < 1960 or not missing
        if person.born.year < 1960:
            flags["id_missing_old"].append(missing)
    else:
        flags["id_missing"].append(missing)
    if spouse is not None:
        flags["id_spouse"].append(kind == "id_spouse")
    if 1900 <= person.born.year <= 1989:
        flags["id_legacy"].append(kind == "id_legacy")
    flags["id_digit"].append(kind == "id_digit")
    flags["id_swap"].append(kind == "id_swap")
    if written:
        flags["id_full_width"].append(written != unicodedata.normalize("NFKC", written))
        if len(written) == 18 and written[-1] in "xXｘＸ":
            flags["id_lower_x"].append(written[-1] in "xｘ")


def _parent_flags(record: Record, flags: dict[str, list[bool]]) -> None:
    for column, parent in (("母亲身份证号", record.person.mother),
                           ("父亲身份证号", record.person.father)):
        assert parent is not None
        kind = _id_noise(record.row[column], parent.id_number)
        for noise in ("id_missing", "id_digit", "id_swap"):
            flags[f"parent_{noise}"].append(kind == noise)
        if parent.id_number.endswith("X") and record.row[column]:
            flags["id_lower_x"].append(record.row[column].endswith("x"))


def _observed_noise(households: list[Household]) -> dict[str, dict[str, list[bool]]]:
    """source -> noise kind -> one flag per record (or number) that could have had it."""
    seen: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for record in _records(households):
        person, row, flags = record.person, record.row, seen[record.source]
        _, name_column, birth_column, address_column, phone_column = FIELDS[record.source]
        if _with_number(record):
            _id_flags(record, flags)
        else:
            _parent_flags(record, flags)
        if row[name_column]:
            names = _name_noise(row[name_column], person)
            for noise in ("name_space", "name_trailing_space"):
                flags[noise].append(noise in names)
            if person.minority:
                flags["name_dot"].append("name_dot" in names)
            elif any(c in HOMOPHONES for c in person.name[1:]):
                flags["name_homophone"].append("name_homophone" in names)
            if any(c in TRADITIONAL for c in person.name):
                flags["name_traditional"].append("name_traditional" in names)
        birth = parse_date(row[birth_column])
        flags["birth_missing"].append(birth is None)
        if birth is not None and birth.day is not None:
            flags["birth_typo"].append(birth.iso() != person.born.isoformat())
        if address_column is not None:
            address = row[address_column] or ""
            flags["address_missing"].append(not address)
            if "组" in address:
                chinese = re.search("[一二三四五六七八九十]组", address) is not None
                flags["address_chinese_group"].append(chinese)
        if phone_column is not None:
            flags["phone_missing"].append(not row[phone_column])
        if record.source == "social_security":
            flags["sex_code"].append(row["aac004"] in ("1", "2"))
        if record.source == "health":
            flags["sex_unknown"].append(row["性别代码"] in ("0", "9"))
    return seen


def test_noise_rates_are_the_configured_ones(households: list[Household]) -> None:
    observed = _observed_noise(households)
    checked = set()
    for source, kinds in observed.items():
        for kind, flags in kinds.items():
            rate, n, hits = getattr(NOISE[source], kind), len(flags), sum(flags)
            assert abs(hits - rate * n) <= _slack(n, rate), (source, kind, hits, n, rate)
            if rate > 0 and n > 0:
                checked.add((source, kind))
    configured = {(source, f.name) for source, rates in NOISE.items()
                  for f in dataclasses.fields(SourceNoise)
                  if isinstance(getattr(rates, f.name), float) and getattr(rates, f.name) > 0}
    assert checked == configured  # every configured rate above 0 was observed
    assert len(configured) == 37 + 14


def _percent(text: str) -> float:
    return 0.0 if text == "-" else float(text.rstrip("*%")) / 100


def test_the_docstring_tables_rates_are_the_configured_ones() -> None:
    doc = synthetic_rates.__doc__ or ""
    fields = {f.name for f in dataclasses.fields(SourceNoise)}
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in doc.splitlines() if line.startswith("| ")]
    documented = [row for row in rows if len(row) == 4 and row[1] in fields]
    assert len(documented) == 13
    for _, field, _, ours in documented:
        party, health = (_percent(text.strip()) for text in ours.split("/"))
        assert getattr(NOISE["party"], field) == pytest.approx(party), field
        assert getattr(NOISE["health"], field) == pytest.approx(health), field


def _date_spelling(text: str, padded: bool) -> str:
    """Which spelling a date is written in; `padded`: the department pads 年月日 dates."""
    if "年" in text:
        assert bool(re.fullmatch(r"\d{4}年\d\d月\d\d日", text)) or not padded, text
        return "cn_padded" if padded else "cn"
    if "." in text:
        return "dot" if len(text) == 10 else "dot_month"
    return "slash" if "/" in text else "iso" if "-" in text else "compact"


def test_spellings_follow_the_configured_shares(households: list[Household]) -> None:
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    dates = {"police": "变动日期", "civil_affairs": "办理日期", "health": "签发日期"}
    births = {"party": "出生日期", "health": "出生日期"}
    for record in _records(households):
        row, source = record.row, record.source
        padded = source == "health"
        if source in dates:
            spellings[f"{source}.date"][_date_spelling(row[dates[source]], padded)] += 1
        if source in births:
            spellings[f"{source}.birth"][_date_spelling(row[births[source]], padded)] += 1
        address_column = FIELDS[source][3]
        address = row[address_column] or "" if address_column else ""
        if address:
            form = ("full" if address.startswith("四川省") else
                    "city" if address.startswith("雅安市") else "short")
            spellings[f"{source}.address"][form] += 1
    assert len(spellings) == 9
    for key, counts in spellings.items():
        source, what = key.split(".")
        rates = dict({"date": NOISE[source].date_spellings,
                      "birth": NOISE[source].birth_spellings,
                      "address": NOISE[source].address_forms}[what])
        total = sum(counts.values())
        assert set(counts) <= set(rates), (key, counts)
        for spelling, rate in rates.items():
            assert abs(counts[spelling] / total - rate) < 0.04, (key, spelling, counts)


def test_marriages_name_the_spouse_and_happen_in_pairs(households: list[Household]) -> None:
    marriages = [r for r in _records(households) if r.kind == "结婚登记"]
    assert len(marriages) > 500
    for record in marriages:
        spouse = record.person.spouse
        assert spouse is not None and record.day == record.person.married
        details = json.loads(record.row["业务内容"])
        assert details == {"配偶姓名": spouse.name, "配偶身份证号": spouse.id_number}
    pairs = Counter(frozenset((r.person.key, r.person.spouse.key)) for r in marriages
                    if r.person.spouse is not None)
    assert set(pairs.values()) == {2}


def test_events_happen_between_birth_and_the_export(households: list[Household]) -> None:
    for record in _records(households):
        assert record.person.born <= record.day <= date(2026, 10, 31)
    kinds = Counter(r.kind for r in _records(households))
    declared = {value for name, field in (("police", "change_type"),
                                          ("civil_affairs", "business_type"),
                                          ("social_security", "event"),
                                          ("party", "change_type"),
                                          ("health", "certificate_type"))
                for value in department(name).spec(field).choices or {}}
    assert set(kinds) == declared


def test_an_empty_city_has_headers_only_and_a_negative_one_is_refused(tmp_path: Path) -> None:
    stats = generate_city(0, 1, tmp_path)
    assert stats.persons == 0 and sum(stats.records.values()) == 0
    assert len((tmp_path / "truth.csv").read_bytes().splitlines()) == 1
    for name in EXPORTS.values():
        assert len((tmp_path / name).read_bytes().splitlines()) == (
            0 if name.endswith(".jsonl") else 1)
    with pytest.raises(ValueError, match="persons"):
        generate_city(-1, 1, tmp_path)


def test_twenty_thousand_persons_take_under_thirty_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    stats = generate_city(20_000, 1, tmp_path)
    assert time.perf_counter() - started < 30
    assert stats.persons == 20_000 and stats.deceased > 0 and stats.twins > 0
    assert set(stats.records) == set(EXPORTS) and stats.members > 0 and stats.unregistered > 0
    assert set(stats.findings) == set(LISTED_KINDS)  # every kind planted
