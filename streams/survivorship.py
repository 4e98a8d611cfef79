"""The golden record: one value per attribute, from the department that owns it (pure).

Each attribute has an owner, the department that collects that fact. A resident's value is the
owner's latest, by when the fact happened (not when it arrived); ties go to the larger record
id, so the result never depends on arrival order. Other departments' values are observations;
one that contradicts the owner's current value is a conflict for the stewards. Without any
value from the owner, the latest observation stands in, marked as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.features import department_of, number_contradicts_record, record_ref
from streams.normalize import normalize_name

OWNER = {
    **dict.fromkeys(("id_number", "name", "sex", "birth_date", "ethnicity", "hukou_address",
                     "residence_address", "life_status", "residence_permit",
                     "population_type"), "police"),
    **dict.fromkeys(("marital_status", "dibao", "elderly_allowance", "disability",
                     "cremation"), "civil_affairs"),
    **dict.fromkeys(("insurance", "employment", "pension"), "social_security"),
    "phone": None,  # no department owns the phone: the latest value wins
}
COMPARED = ("name", "sex", "birth_date")
CHINA_TIME = timezone(timedelta(hours=8))  # observations checked against the owner's value


@dataclass(frozen=True)
class Observation:
    """A fact a record states: attribute, value, when it became true, and who said it."""

    attribute: str
    value: Any
    valid_from: str  # YYYY[-MM[-DD]] or an ISO timestamp; sorts chronologically as text
    source: str
    record: str  # the record ref


@dataclass(frozen=True)
class GoldenValue:
    attribute: str
    value: Any
    valid_from: str
    source: str
    record: str
    authority: str  # owner | observed (no value from the owner yet) | latest (no owner)


@dataclass(frozen=True)
class Conflict:
    attribute: str
    owner_value: Any
    other_value: Any
    owner_record: str
    other_record: str


def observations_of(event: dict[str, Any]) -> list[Observation]:
    """Every fact one canonical event states about its person."""
    source, ref = department_of(event), record_ref(event)
    parsed = event["data"]["parsed"]
    when = _local_time(parsed.get("occurred") or "")
    facts: dict[str, Any] = {"name": parsed.get("name"), "sex": parsed.get("sex"),
                             "birth_date": parsed.get("birth_date"), "phone": parsed.get("phone"),
                             "id_number": _own_number(parsed)}
    if source == "police":
        change = parsed.get("change_type")
        facts |= {"ethnicity": parsed.get("ethnicity"),
                  "hukou_address": parsed.get("hukou_address"),
                  "residence_address": parsed.get("residence_address"),
                  "population_type": parsed.get("population_type"),
                  "life_status": "deceased" if change == "死亡注销" else "alive"}
        if change == "居住证办理":
            facts["residence_permit"] = "issued"
    elif source == "civil_affairs":
        facts |= _civil_affairs_facts(parsed)
        facts["residence_address"] = parsed.get("address")
    elif source == "social_security":
        facts |= _social_security_facts(parsed)
        facts["residence_address"] = parsed.get("address")
    return [Observation(a, v, when, source, ref) for a, v in facts.items()
            if v is not None and v != ""]


def _own_number(parsed: dict[str, Any]) -> str | None:
    """The record's valid ID number, unless it is evidently a relative's."""
    number = (parsed.get("id_number") or {}).get("normalized")
    return None if not number or number_contradicts_record(number, parsed) else number


def _local_time(occurred: str) -> str:
    """Timestamps in China's time (UTC+8, no daylight saving), so that every `valid_from`
    (dates from police and civil affairs, timestamps from social security) sorts as text."""
    if "T" not in occurred:
        return occurred
    return datetime.fromisoformat(occurred).astimezone(CHINA_TIME).isoformat()


def _civil_affairs_facts(parsed: dict[str, Any]) -> dict[str, Any]:
    details = parsed.get("details") or {}
    kind = parsed.get("business_type")
    if kind == "结婚登记":
        return {"marital_status": "married"}
    if kind == "低保认定":
        return {"dibao": {"monthly": details.get("月保障金额"),
                          "household": details.get("保障人口")}}
    if kind == "高龄津贴发放":
        return {"elderly_allowance": details or "granted"}
    if kind == "残疾人两项补贴":
        return {"disability": details or "granted"}
    if kind == "火化登记":
        return {"cremation": {"date": (parsed.get("details_dates") or {}).get("死亡日期"),
                              "place": details.get("火化地点")}}
    return {}


def _social_security_facts(parsed: dict[str, Any]) -> dict[str, Any]:
    payload = parsed.get("payload") or {}
    kind = parsed.get("event")
    if kind == "insurance.enrolled":
        return {"insurance": payload.get("险种") or "enrolled"}
    if kind == "employment.registered":
        return {"employment": payload.get("单位名称") or "employed"}
    if kind == "pension.started":
        return {"pension": {"status": "active", "monthly": payload.get("月养老金")}}
    if kind == "pension.stopped":
        return {"pension": {"status": "stopped", "reason": payload.get("原因")}}
    return {}


def _latest(observations: list[Observation]) -> Observation:
    return max(observations, key=lambda o: (o.valid_from, o.record))


def golden_record(observations: Iterable[Observation]
                  ) -> tuple[dict[str, GoldenValue], list[Conflict]]:
    """Each attribute's value with its authority, and the observations contradicting owners."""
    by_attribute: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_attribute[o.attribute].append(o)
    golden: dict[str, GoldenValue] = {}
    conflicts: list[Conflict] = []
    for attribute, found in sorted(by_attribute.items()):
        owner = OWNER.get(attribute)
        owned = [o for o in found if owner is None or o.source == owner]
        pick = _latest(owned or found)
        authority = "latest" if owner is None else "owner" if owned else "observed"
        golden[attribute] = GoldenValue(attribute, pick.value, pick.valid_from, pick.source,
                                        pick.record, authority)
        if owned and attribute in COMPARED:
            conflicts += [Conflict(attribute, pick.value, o.value, pick.record, o.record)
                          for o in sorted(found, key=lambda o: o.record)
                          if o.source != owner and not _agrees(attribute, pick.value, o.value)]
    return golden, conflicts


def _agrees(attribute: str, owner_value: Any, other: Any) -> bool:
    if attribute == "birth_date":  # a partial date agrees with the full one it abbreviates
        return str(owner_value).startswith(str(other)) or str(other).startswith(str(owner_value))
    if attribute == "name":
        return normalize_name(owner_value) == normalize_name(other)
    return owner_value == other


def history(observations: Iterable[Observation]) -> list[tuple[Observation, str | None]]:
    """Every value each attribute had, with when the next one replaced it (None: current)."""
    by_attribute: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_attribute[o.attribute].append(o)
    rows = []
    for attribute, found in sorted(by_attribute.items()):
        owner = OWNER.get(attribute)
        owned = [o for o in found if owner is None or o.source == owner] or found
        ordered = sorted(owned, key=lambda o: (o.valid_from, o.record))
        rows += [(o, ordered[i + 1].valid_from if i + 1 < len(ordered) else None)
                 for i, o in enumerate(ordered)]
    return rows


def value_as_of(rows: Iterable[tuple[Observation, str | None]], attribute: str, when: str
                ) -> Any:
    """The attribute's value on `when` (YYYY-MM-DD): the last one that began by then."""
    began = [o for o, _ in rows if o.attribute == attribute and o.valid_from[:10] <= when]
    return _latest(began).value if began else None
