"""What a merge, a recheck, a relink or a steward's decision changed: for metrics, the change
feed's counts and the recheck that follows a merge."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MergeSummary:
    """What a batch changed, for metrics and the change feed."""

    changed_records: int = 0
    component_records: int = 0
    changes: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)
    rechecks: Counter = field(default_factory=Counter)  # by outcome
    paths: Counter = field(default_factory=Counter)  # records joined / reclustered
    # each linked record's (protected) lookup keys, so its own recheck need not compute them
    lookups: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, other: MergeSummary) -> None:
        """Count in what a later transaction (a recheck) did."""
        self.changed_records += other.changed_records
        self.component_records += other.component_records
        self.changes.update(other.changes)
        self.rules.update(other.rules)
        self.rechecks.update(other.rechecks)
        self.paths.update(other.paths)
        self.lookups.update(other.lookups)
