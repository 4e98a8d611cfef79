"""The findings rules over a resident's facts, each kind as the contract's "Findings" defines it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.facts import Observation
from streams.findings import KINDS, RULES, ResidentFacts, findings_of
from streams.normalize_address import OUTSIDE
from streams.survivorship import golden_record

PLACES = {"雨城区东城街道双河社区": "雨城区/东城街道/双河社区",
          "雨城区东城街道双河社区人民路1号": "雨城区/东城街道/双河社区",
          "名山区百丈镇南街社区": "名山区/百丈镇/南街社区",
          "四川省成都市武侯区玉林街道": OUTSIDE}


def o(attribute: str, value: object, when: str, record: str) -> Observation:
    return Observation(attribute, value, when, record.split(":")[0], record)


ALIVE = o("life_status", "alive", "2015-01-27", "police:GA1")
DEREGISTERED = o("life_status", "deceased", "2024-03-01", "police:GA9")
PENSION = o("pension", {"status": "active", "monthly": 2813}, "2013-02-01T11:38:00+08:00",
            "social_security:RS1")
STOPPED = o("pension", {"status": "stopped", "reason": "死亡"}, "2024-04-01T09:00:00+08:00",
            "social_security:RS2")
CREMATION = o("cremation", {"date": "2025-03-03"}, "2025-03-03", "civil_affairs:MZ1")
CREMATED = o("life_status", "deceased", "2025-03-03", "civil_affairs:MZ1")
DEATH_CERTIFICATE = o("death_certificate", {"date": "2025-02-06"}, "2025-02-06", "health:S1")
CERTIFIED_DEAD = o("life_status", "deceased", "2025-02-06", "health:S1")
BIRTH_CERTIFICATE = o("birth_certificate", {"issued": "2026-07-29"}, "2026-07-19", "health:O1")
DIBAO = o("dibao", {"monthly": 720}, "2025-05-09", "civil_affairs:MZ2")
LIVES = o("residence_address", "雨城区东城街道双河社区人民路1号", "2015-01-27", "police:GA1")


def member(place: str, status: str = "member", record: str = "party:DJ1") -> Observation:
    return o("party_membership", {"status": status, "place": place}, "2021-11-02", record)


def place_of(text: str) -> str | None:
    return PLACES.get(text)


def found(*observations: Observation) -> dict[str, tuple[str, ...]]:
    golden, _ = golden_record(observations)
    return {f.kind: f.evidence for f in findings_of(ResidentFacts(golden, observations),
                                                    place_of)}


def test_every_kind_is_named_once() -> None:
    assert len(set(KINDS)) == len(KINDS) == len(RULES) + 1  # elderly_living_alone: a view


def test_a_death_any_department_records_with_a_pension_still_paid() -> None:
    assert found(ALIVE, DEREGISTERED, PENSION) == {
        "deceased_with_active_pension": ("police:GA9", "social_security:RS1")}
    # the police never deregistered: a cremation or a death certificate is the evidence
    assert "deceased_with_active_pension" in found(ALIVE, CREMATION, CREMATED, PENSION)
    assert "deceased_with_active_pension" in found(ALIVE, DEATH_CERTIFICATE, CERTIFIED_DEAD,
                                                   PENSION)
    assert found(DEREGISTERED, PENSION, STOPPED) == {}
    assert found(ALIVE, PENSION) == {}
    restarted = o("pension", {"status": "active"}, "2024-05-01", "social_security:RS3")
    assert "deceased_with_active_pension" in found(DEREGISTERED, PENSION, STOPPED, restarted)


def test_a_grid_workers_deceased_report_is_evidence_on_a_pension_still_paid() -> None:
    reported = o("life_status", "deceased", "2026-11-20", "grid:GR1")  # an observation only
    assert found(ALIVE, PENSION, reported)["deceased_with_active_pension"] == (
        "grid:GR1", "social_security:RS1")
    assert golden_record((ALIVE, PENSION, reported))[0]["life_status"].value == "alive"


def test_a_death_certificate_or_cremation_the_police_never_deregistered() -> None:
    assert set(found(ALIVE, CREMATION, CREMATED)) == {"cremated_not_deregistered"}
    assert set(found(CREMATION, CREMATED)) == {"cremated_not_deregistered"}  # no police record
    assert found(ALIVE, DEREGISTERED, CREMATION, CREMATED) == {}
    assert found(ALIVE, DEATH_CERTIFICATE, CERTIFIED_DEAD) == {
        "death_certified_not_deregistered": ("health:S1",)}
    assert found(ALIVE, DEREGISTERED, DEATH_CERTIFICATE, CERTIFIED_DEAD) == {}


def test_dibao_with_employment_whichever_came_first() -> None:
    for when in ("2025-06-01T09:00:00+08:00", "2019-06-01T09:00:00+08:00"):
        job = o("employment", "雅安市茶业有限公司", when, "social_security:RS4")
        assert found(DIBAO, job) == {"dibao_with_employment": ("civil_affairs:MZ2",
                                                               "social_security:RS4")}
    assert found(DIBAO) == {}


def test_a_party_member_kept_in_another_community_or_outside_the_city() -> None:
    assert found(ALIVE, LIVES, member("名山区百丈镇南街社区")) == {
        "party_member_living_elsewhere": ("party:DJ1", "police:GA1")}
    assert set(found(ALIVE, LIVES, member("四川省成都市武侯区玉林街道"))) == {
        "party_member_living_elsewhere"}
    assert found(ALIVE, LIVES, member("雨城区东城街道双河社区")) == {}  # kept where they live
    assert found(ALIVE, LIVES, member("某地某处")) == {}  # a place no one can tell
    assert found(member("名山区百丈镇南街社区")) == {}  # the police has no residence for them
    assert "party_member_living_elsewhere" not in found(ALIVE, LIVES, DEREGISTERED,
                                                        member("名山区百丈镇南街社区"))


def test_a_dead_member_still_on_the_party_roll() -> None:
    on_roll = member("雨城区东城街道双河社区")
    assert found(LIVES, DEREGISTERED, on_roll) == {
        "deceased_party_member_on_roll": ("party:DJ1", "police:GA9")}
    assert "deceased_party_member_on_roll" in found(LIVES, on_roll, CREMATION, CREMATED)
    died = member("雨城区东城街道双河社区", "died", "party:DJ2")
    assert "deceased_party_member_on_roll" not in found(LIVES, DEREGISTERED, on_roll, died)
    assert found(ALIVE, LIVES, on_roll) == {}


def test_a_birth_certificate_without_any_population_registration() -> None:
    assert found(BIRTH_CERTIFICATE) == {"birth_not_registered": ("health:O1",)}
    assert found(BIRTH_CERTIFICATE, ALIVE) == {}


EVERY = [ALIVE, DEREGISTERED, PENSION, STOPPED, CREMATION, CREMATED, DEATH_CERTIFICATE,
         CERTIFIED_DEAD, BIRTH_CERTIFICATE, DIBAO, LIVES, member("名山区百丈镇南街社区"),
         member("雨城区东城街道双河社区", "died", "party:DJ2"),
         o("employment", "茶厂", "2019-06-01", "social_security:RS4")]


@given(st.lists(st.sampled_from(EVERY), max_size=12), st.randoms(use_true_random=False))
def test_findings_depend_on_the_facts_not_their_order_or_repeats(
        observations: list[Observation], rng) -> None:
    shuffled = observations * 2
    rng.shuffle(shuffled)
    assert found(*observations) == found(*shuffled)


def test_a_birth_certificate_waiting_for_a_steward_beside_a_registration_is_not_a_finding() -> None:
    """Nameless twins' certificates fit both registrations: until a steward decides, the hub
    cannot say the child has no population registration."""
    golden, _ = golden_record([BIRTH_CERTIFICATE])
    waiting = ResidentFacts(golden, [BIRTH_CERTIFICATE], frozenset({"police"}))
    assert findings_of(waiting, place_of) == []
    elsewhere = ResidentFacts(golden, [BIRTH_CERTIFICATE], frozenset({"civil_affairs"}))
    assert [f.kind for f in findings_of(elsewhere, place_of)] == ["birth_not_registered"]
