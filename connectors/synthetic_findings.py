"""The findings a household's records show, by the contract's definitions (its "Findings").

Read from the records the departments wrote, not from the lives behind them, so that
findings.csv lists exactly the cases in the data: every planted one and no other. "The hub knows
the person died": a police 死亡注销, a 火化登记 or a 死亡医学证明. "Current": the latest event of
its kind, by when it happened, has not ended it (only pensions end, by pension.stopped).
`elderly_living_alone` needs the neighbours and is the store's view over addresses: it is not
listed (as in the contract's samples).
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.synthetic_model import Household, Person, Record
from streams.findings import KINDS

DEATHS = {"死亡注销", "火化登记", "死亡医学证明"}


class Evidence:
    """One person's records, as the definitions read them."""

    def __init__(self, records: list[Record]):
        records = sorted(records, key=lambda r: r.day)
        self.kinds = {r.kind for r in records}
        self.police = [r for r in records if r.source == "police"]
        self.party = [r for r in records if r.source == "party"]
        self.pension = [r for r in records if r.kind.startswith("pension.")]
        self.known_dead = bool(self.kinds & DEATHS)
        self.deregistered = "死亡注销" in self.kinds
        self.member = bool(self.party) and self.party[-1].kind != "死亡"

    def elsewhere(self) -> bool:
        """The membership is kept (latest party record) in another community than where the
        police has them living (latest police record), or outside the city."""
        return bool(self.police) and self.party[-1].community != self.police[-1].community


DEFINITIONS: dict[str, Callable[[Evidence], bool]] = {
    "deceased_with_active_pension":
        lambda e: e.known_dead and bool(e.pension) and e.pension[-1].kind == "pension.started",
    "cremated_not_deregistered": lambda e: "火化登记" in e.kinds and not e.deregistered,
    "dibao_with_employment": lambda e: {"低保认定", "employment.registered"} <= e.kinds,
    "party_member_living_elsewhere": lambda e: e.member and not e.known_dead and e.elsewhere(),
    "deceased_party_member_on_roll": lambda e: e.member and e.known_dead,
    "death_certified_not_deregistered": lambda e: "死亡医学证明" in e.kinds and not e.deregistered,
    "birth_not_registered": lambda e: "出生医学证明" in e.kinds and not e.police,
}
LISTED_KINDS = tuple(kind for kind in KINDS if kind in DEFINITIONS)  # the hub's order


def household_findings(household: Household) -> list[tuple[str, Person]]:
    """(kind, person) of every case the household's records show, members in order."""
    records: dict[Person, list[Record]] = {person: [] for person in household.members}
    for record in household.records:
        records[record.person].append(record)
    found = []
    for person in household.members:
        evidence = Evidence(records[person])
        found += [(kind, person) for kind in LISTED_KINDS if DEFINITIONS[kind](evidence)]
    return found
