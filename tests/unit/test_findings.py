"""The findings rules over golden records."""

from streams.findings import findings_of
from streams.survivorship import GoldenValue


def g(attribute: str, value: object, when: str, record: str) -> GoldenValue:
    source = record.split(":")[0]
    return GoldenValue(attribute, value, when, source, record, "owner")


DEAD = g("life_status", "deceased", "2024-03-01", "police:GA9")
ALIVE = g("life_status", "alive", "2015-01-27", "police:GA1")
PENSION = g("pension", {"status": "active", "monthly": 2813}, "2013-02-01T11:38:00+08:00",
            "social_security:RS1")
STOPPED = g("pension", {"status": "stopped", "reason": "死亡"}, "2024-04-01T09:00:00+08:00",
            "social_security:RS2")
CREMATION = g("cremation", {"date": "2025-03-03"}, "2025-03-04", "civil_affairs:MZ1")
DIBAO = g("dibao", {"monthly": 720}, "2025-05-09", "civil_affairs:MZ2")


def kinds(*values: GoldenValue) -> set[str]:
    return {f.kind for f in findings_of({v.attribute: v for v in values})}


def test_a_death_with_a_pension_still_active() -> None:
    [finding] = findings_of({"life_status": DEAD, "pension": PENSION})
    assert finding.kind == "deceased_with_active_pension"
    assert finding.evidence == ("police:GA9", "social_security:RS1")
    assert finding.since == "2024-03-01"
    assert kinds(DEAD, STOPPED) == set()
    assert kinds(ALIVE, PENSION) == set()


def test_a_cremation_the_police_never_deregistered() -> None:
    assert kinds(CREMATION, ALIVE) == {"cremated_not_deregistered"}
    assert kinds(CREMATION) == {"cremated_not_deregistered"}  # police never heard of them
    assert kinds(CREMATION, DEAD) == set()


def test_dibao_with_employment_registered_since() -> None:
    later = g("employment", "雅安市茶业有限公司", "2025-06-01T09:00:00+08:00",
              "social_security:RS3")
    earlier = g("employment", "雅安市茶业有限公司", "2019-06-01T09:00:00+08:00",
                "social_security:RS4")
    assert kinds(DIBAO, later) == {"dibao_with_employment"}
    assert kinds(DIBAO, earlier) == set()
    assert kinds(DIBAO) == set()
