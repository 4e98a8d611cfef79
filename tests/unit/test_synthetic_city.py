"""The synthetic city: deterministic, in the contract's formats, honest truth, realistic noise."""

from __future__ import annotations

import csv
import json
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.csv_source import read_csv
from connectors.fields import id_sex, parse_date, parse_id_number
from connectors.jsonl_source import read_jsonl
from connectors.synthetic_city import (
    FINDING_KINDS,
    Household,
    Person,
    generate_city,
    grid_reference,
    iter_households,
)
from connectors.synthetic_noise import (
    CHINESE_NUMERALS,
    HOMOPHONES,
    MIDDLE_DOT,
    NOISE,
    TRADITIONAL,
    legacy_number,
)
from schemas.departments import department
from schemas.registry import validation_errors
from tests.samples import SAMPLE, encoding, header, mapping

PERSONS, SEED = 5000, 20260101
FILES = ["police_population.csv", "civil_affairs.csv", "social_security.jsonl", "truth.csv",
         "persons.csv", "findings.csv", "grids.csv"]
SOURCE_FILES = {"police": "police_population.csv", "civil_affairs": "civil_affairs.csv",
                "social_security": "social_security.jsonl"}
FIELDS = {  # source -> (ID, name, birth date, address, phone) columns
    "police": ("公民身份号码", "姓名", "出生日期", "现住址", "联系电话"),
    "civil_affairs": ("身份证号", "姓名", "出生年月", "家庭住址", "联系方式"),
    "social_security": ("aac002", "aac003", "aac006", "address", "phone"),
}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(PERSONS, SEED, out)
    return out


@pytest.fixture(scope="module")
def households() -> list[Household]:
    return list(iter_households(PERSONS, SEED))


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as file:
        return list(csv.DictReader(file))


def _events(city: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every record as the connectors read and map it (a dead letter fails the test)."""
    readers: dict[str, tuple[Iterator[Any], Callable[..., dict[str, Any]]]] = {
        name: (read_csv(city / SOURCE_FILES[name], encoding(name), header(name)), mapping(name))
        for name in ("police", "civil_affairs")}
    readers["social_security"] = (read_jsonl(city / SOURCE_FILES["social_security"]),
                                  mapping("social_security"))
    for source, (records, to_event) in readers.items():
        for record in records:
            assert record.columns is not None, (record.reason, record.error)
            yield source, to_event(record.columns, record.origin)


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first, second, other = (generate_city(800, seed, tmp_path / name)
                            for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    assert first == second and first.persons == 800
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert other != first
    police_file = SOURCE_FILES["police"]
    ours, theirs = ((tmp_path / d / police_file).read_bytes() for d in ("a", "c"))
    assert ours != theirs
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(FILES)


def test_files_have_the_samples_headers_encodings_and_grids(city: Path) -> None:
    for name in FILES:
        ours, sample = (d / name for d in (city, SAMPLE))
        if name.endswith(".csv"):
            assert ours.read_bytes().split(b"\r\n")[0] == sample.read_bytes().split(b"\r\n")[0]
    assert (city / "civil_affairs.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    (city / "police_population.csv").read_bytes().decode("gb18030")
    line = json.loads((city / "social_security.jsonl").read_text("utf-8").splitlines()[0])
    assert list(line) == list(json.loads((SAMPLE / "social_security.jsonl").read_text(
        "utf-8").splitlines()[0]))
    assert (city / "grids.csv").read_bytes() == (SAMPLE / "grids.csv").read_bytes()


def test_every_record_maps_with_zero_errors(city: Path) -> None:
    counts: Counter[str] = Counter()
    for source, event in _events(city):
        assert validation_errors(event) == []
        counts[source] += 1
    assert min(counts.values()) > 1000


def test_truth_covers_every_record_exactly_once(city: Path) -> None:
    records = Counter((source, e["subject"]) for source, e in _events(city))
    truth = _csv(city / "truth.csv")
    assert Counter((t["source"], t["record_id"]) for t in truth) == records
    assert max(records.values()) == 1
    persons = _csv(city / "persons.csv")
    assert [p["person"] for p in persons] == [f"T{i:07d}" for i in range(PERSONS)]
    assert {t["person"] for t in truth} == {p["person"] for p in persons}
    assert {p["deceased"] for p in persons} == {"0", "1"}


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


def test_every_address_lands_in_one_grid_and_persons_csv_names_it(city: Path) -> None:
    resolve = _resolver()
    truth = {(t["source"], t["record_id"]): t["person"] for t in _csv(city / "truth.csv")}
    latest: dict[str, tuple[str, str]] = {}
    for source, event in _events(city):
        parsed = event["data"]["parsed"]
        for key in ("residence_address", "hukou_address", "address"):
            if parsed.get(key):
                assert len(resolve(parsed[key])) == 1, parsed[key]
        if source == "police" and parsed["change_type"] != "死亡注销":
            person = truth[source, parsed["record_id"]]
            latest[person] = max(latest.get(person, ("", "")),
                                 (parsed["occurred"], parsed["residence_address"]))
    for person in _csv(city / "persons.csv"):
        assert resolve(latest[person["person"]][1]) == {person["grid"]}


def _findings_in_records(city: Path) -> set[tuple[str, str]]:
    """The three situations, found from the records and truth alone."""
    truth = {(t["source"], t["record_id"]): t["person"] for t in _csv(city / "truth.csv")}
    kinds: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source, event in _events(city):
        parsed = event["data"]["parsed"]
        kind = parsed.get("change_type") or parsed.get("business_type") or parsed["event"]
        kinds[truth[source, parsed["record_id"]]][kind].append(parsed["occurred"][:10])
    found = set()
    for person, seen in kinds.items():
        died = "死亡注销" in seen or "火化登记" in seen
        if died and "pension.started" in seen and "pension.stopped" not in seen:
            found.add(("deceased_with_active_pension", person))
        if "火化登记" in seen and "死亡注销" not in seen:
            found.add(("cremated_not_deregistered", person))
        if max(seen["employment.registered"], default="") > min(seen["低保认定"], default="9"):
            found.add(("dibao_with_employment", person))
    return found


def test_planted_findings_are_exactly_what_the_records_show(city: Path) -> None:
    listed = [(f["kind"], f["person"]) for f in _csv(city / "findings.csv")]
    assert len(listed) == len(set(listed))
    assert set(listed) == _findings_in_records(city)
    assert {kind for kind, _ in listed} == set(FINDING_KINDS)
    deceased = {p["person"] for p in _csv(city / "persons.csv") if p["deceased"] == "1"}
    assert {person for kind, person in listed if kind != "dibao_with_employment"} <= deceased


def test_deaths_are_recorded_and_nothing_happens_after_them(households: list[Household]) -> None:
    for household in households:
        for person in household.members:
            kinds = [r.kind for r in household.records if r.person is person]
            if person.died is None:
                assert not {"死亡注销", "火化登记", "pension.stopped"} & set(kinds)
                continue
            assert {"死亡注销", "火化登记"} & set(kinds)
            after = [r.kind for r in household.records if r.person is person
                     and r.day > person.died]
            assert set(after) <= {"死亡注销", "火化登记", "pension.stopped"}


def test_id_numbers_are_unique_valid_and_match_sex_and_birth(
        households: list[Household]) -> None:
    people = [p for h in households for p in h.members]
    assert len({p.id_number for p in people}) == len(people) == PERSONS
    for person in people:
        number = parse_id_number(person.id_number)
        assert number is not None and number.normalized == person.id_number
        assert id_sex(person.id_number) == {"男": "M", "女": "F"}[person.sex]
        assert person.id_number[6:14] == person.born.strftime("%Y%m%d")


def test_written_id_numbers_are_valid_unless_deliberately_noisy(
        households: list[Household]) -> None:
    kinds: Counter[str] = Counter()
    for record in (r for h in households for r in h.records):
        written = record.row[FIELDS[record.source][0]]
        kind = _id_noise(written, record.person)
        kinds[kind] += 1
        number = parse_id_number(written)
        if kind in ("ok", "id_legacy"):
            assert number is not None and number.normalized == record.person.id_number
        elif kind == "id_spouse":
            spouse = record.person.spouse
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


def _id_noise(written: str | None, person: Person) -> str:
    """Which mistake (if any) a written ID number shows, against the person's true one."""
    true = person.id_number
    spouse = person.spouse.id_number if person.spouse is not None else None
    if not written:
        return "id_missing"
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


def _name_noise(written: str, person: Person) -> set[str]:
    """Which name noises a written name shows, against the person's true name."""
    found = set()
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


def _observed_noise(households: list[Household]) -> dict[str, dict[str, list[bool]]]:
    """source -> noise kind -> one flag per record that could have had it."""
    seen: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for record in (r for h in households for r in h.records):
        person, row, flags = record.person, record.row, seen[record.source]
        id_column, name_column, birth_column, address_column, phone_column = FIELDS[record.source]
        kind = _id_noise(row[id_column], person)
        cremation = record.kind == "火化登记"
        flags["id_missing_cremation" if cremation else "id_missing"].append(kind == "id_missing")
        married = person.spouse is not None and person.married is not None and (
            person.married <= record.day)
        if married:
            flags["id_spouse"].append(kind == "id_spouse")
        if 1900 <= person.born.year <= 1989:
            flags["id_legacy"].append(kind == "id_legacy")
        flags["id_digit"].append(kind == "id_digit")
        flags["id_swap"].append(kind == "id_swap")
        written = row[id_column] or ""
        if len(written) == 18 and written[-1] in "xX":
            flags["id_lower_x"].append(written[-1] == "x")
        names = _name_noise(row[name_column], person)
        flags["name_space"].append("name_space" in names)
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
        address = row[address_column] or ""
        flags["address_missing"].append(not address)
        if "组" in address:
            chinese = re.search("[一二三四五六七八九十]组", address) is not None
            flags["address_chinese_group"].append(chinese)
        flags["phone_missing"].append(not row[phone_column])
        if record.source == "social_security":
            flags["sex_code"].append(row["aac004"] in ("1", "2"))
    return seen


def test_noise_rates_are_the_configured_ones(households: list[Household]) -> None:
    observed = _observed_noise(households)
    checked = 0
    for source, kinds in observed.items():
        for kind, flags in kinds.items():
            rate, n, hits = getattr(NOISE[source], kind), len(flags), sum(flags)
            slack = 4 * math.sqrt(n * rate * (1 - rate)) + 3
            assert abs(hits - rate * n) <= slack, (source, kind, hits, n, rate)
            checked += rate > 0 and n > 0
    assert checked == 37  # every configured rate above 0 was observed


def test_spellings_follow_the_configured_shares(households: list[Household]) -> None:
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for record in (r for h in households for r in h.records):
        row = record.row
        if record.source == "police":
            spellings["police.date"]["iso" if "-" in row["变动日期"] else "compact"] += 1
            address = row["现住址"]
        elif record.source == "civil_affairs":
            day = row["办理日期"]
            spellings["civil_affairs.date"][
                "cn" if "年" in day else "slash" if "/" in day else "iso"] += 1
            address = row["家庭住址"]
        else:
            address = row["address"] or ""
        if address:
            form = ("full" if address.startswith("四川省") else
                    "city" if address.startswith("雅安市") else "short")
            spellings[f"{record.source}.address"][form] += 1
    for key, counts in spellings.items():
        source, what = key.split(".")
        rates = dict(NOISE[source].date_spellings if what == "date"
                     else NOISE[source].address_forms)
        total = sum(counts.values())
        for spelling, rate in rates.items():
            assert abs(counts[spelling] / total - rate) < 0.03, (key, spelling, counts)


def test_marriages_name_the_spouse_and_happen_in_pairs(households: list[Household]) -> None:
    marriages = [r for h in households for r in h.records if r.kind == "结婚登记"]
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
    for record in (r for h in households for r in h.records):
        assert record.person.born <= record.day <= date(2026, 10, 31)
    kinds = Counter(r.kind for h in households for r in h.records)
    declared = {value for name, field in (("police", "change_type"),
                                          ("civil_affairs", "business_type"),
                                          ("social_security", "event"))
                for value in (department(name).spec(field).choices or {}).values()}
    assert set(kinds) == declared


def test_an_empty_city_has_headers_only_and_a_negative_one_is_refused(tmp_path: Path) -> None:
    stats = generate_city(0, 1, tmp_path)
    assert stats.persons == 0 and sum(stats.records.values()) == 0
    assert len((tmp_path / "truth.csv").read_bytes().splitlines()) == 1
    with pytest.raises(ValueError, match="persons"):
        generate_city(-1, 1, tmp_path)


def test_twenty_thousand_persons_take_under_thirty_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    stats = generate_city(20_000, 1, tmp_path)
    assert time.perf_counter() - started < 30
    assert stats.persons == 20_000 and stats.deceased > 0 and stats.twins > 0
