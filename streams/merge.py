"""One batch of events into the resident store, in the caller's transaction.

For every record whose current version changed: new blocking keys and edges, then the whole
component around it (over linking edges, with the residents it belonged to) is clustered again
from scratch and its residents rewritten. Because clustering depends only on the component's
records, edges and steward decisions, the store ends the same whatever order events came in.

Workers merge side by side without locking blocking keys, so two batches whose records should
meet may each miss the other's, uncommitted. Each merge therefore leaves a recheck (its records
and the snapshot its lookups saw); after it commits, `recheck` reads the records written by
transactions that snapshot could not see and merges again those of its records whose lookup
keys meet one or whose edges end at one. Of two such merges the later to commit always finds
the earlier one's records then, because `a` finds `b` exactly when `b` finds `a`
(matching.RecordKeys).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streams import merge_store as store
from streams.clustering import Link, cluster
from streams.facts import Observation, Relative, observations_of, relatives_of
from streams.features import RecordFeatures, features_of
from streams.findings import ResidentFacts, findings_of
from streams.grids import grid_of, load_gazetteer
from streams.matching import Parameters, RecordKeys, keys_of
from streams.normalize_address import community_of, normalize_address
from streams.resolve import MAX_BLOCK, edges_among
from streams.survivorship import golden_record, history

MAX_COMPONENT = 50_000
# Merges take this lock shared, so workers merge side by side; a steward's decision and a rekey
# take it exclusive and run alone. Between merges, resident locks (merge_store.lock_residents)
# keep two transactions from rewriting the same residents.
MERGE_LOCK = 7_303_240_002


@dataclass
class MergeSummary:
    """What a batch changed, for metrics and the change feed."""

    changed_records: int = 0
    component_records: int = 0
    changes: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)
    rechecks: Counter = field(default_factory=Counter)  # by outcome
    # each linked record's (protected) lookup keys, so its own recheck need not compute them
    lookups: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, other: MergeSummary) -> None:
        """Count in what a later transaction (a recheck) did."""
        self.changed_records += other.changed_records
        self.component_records += other.component_records
        self.changes.update(other.changes)
        self.rules.update(other.rules)
        self.rechecks.update(other.rechecks)
        self.lookups.update(other.lookups)


def merge_events(cur: Any, events: Sequence[dict[str, Any]], parameters: Parameters
                 ) -> MergeSummary:
    """Apply `events` (already deduplicated by id) to the store."""
    latest: dict[str, tuple[RecordFeatures, str, list]] = {}
    relatives: dict[str, list[Relative]] = {}
    for event in events:  # pure work first, before the lock other workers wait on
        features = features_of(event)
        if features.ref not in latest or latest[features.ref][0].version < features.version:
            latest[features.ref] = (features, event["id"], observations_of(event))
            relatives[features.ref] = relatives_of(event)
    rows = store.record_rows(list(latest.values()))
    keys = _protected({ref: f for ref, (f, _, _) in latest.items()})
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
    changed = store.upsert_records(cur, rows)
    summary = MergeSummary(changed_records=len(changed))
    if not changed:
        return summary
    store.replace_keys(cur, {ref: keys[ref].stored for ref in changed})
    store.replace_relations(cur, changed, [r for ref in changed for r in relatives[ref]])
    _link(cur, {ref: latest[ref][0] for ref in changed}, keys, parameters, summary,
          {ref: latest[ref][2] for ref in changed})
    return summary


def recheck(cur: Any, parameters: Parameters, known: dict[str, frozenset[str]]
            ) -> MergeSummary | None:
    """Take one committed merge's recheck (any worker's) and merge again those of its records
    that records it could not see now meet; None when none is waiting. `known`: lookup keys
    this worker's merges computed (MergeSummary.lookups), the others are computed again."""
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
    claimed = store.claim_recheck(cur)
    if claimed is None:
        return None
    summary = MergeSummary()
    unseen = store.unseen_records(cur, claimed)
    again: set[str] = set()
    if unseen:
        lookups = {ref: known[ref] for ref in claimed.refs if ref in known}
        if len(lookups) < len(claimed.refs):  # another worker's recheck, or a crashed one's
            stored = store.load_features(cur, [r for r in claimed.refs if r not in lookups])
            lookups |= {ref: keys.lookup for ref, keys in _protected(stored).items()}
        keys = store.stored_keys(cur, unseen)
        again = {ref for ref, lookup in lookups.items() if lookup & keys}
        again |= store.linked_to(cur, claimed.refs, unseen)
    summary.rechecks["merged_again" if again else "nothing_unseen"] += 1
    if again:
        features = store.load_features(cur, sorted(again))  # current versions
        _link(cur, features, _protected(features), parameters, summary)
    return summary


def _protected(features: dict[str, RecordFeatures]) -> dict[str, RecordKeys]:
    return store.protected_keys({ref: keys_of(f) for ref, f in features.items()})


def _link(cur: Any, records: dict[str, RecordFeatures], keys: dict[str, RecordKeys],
          parameters: Parameters, summary: MergeSummary,
          observed: dict[str, list[Observation]] | None = None) -> None:
    """These records' edges against every record their lookup keys find, then their
    components clustered again; noted for a recheck first (the module's docstring).
    `observed`: observations of these records the caller has in hand."""
    changed = sorted(records)
    store.note_recheck(cur, changed)  # its snapshot sees no more than the lookups below
    summary.lookups.update((ref, keys[ref].lookup) for ref in changed)
    lookups = {k for ref in changed for k in keys[ref].lookup}
    candidates = store.load_features(cur, store.refs_sharing_keys(cur, lookups, MAX_BLOCK))
    known = {**candidates, **records}
    edges = edges_among(list(records.values()), parameters, against=list(known.values()))
    store.replace_edges(cur, changed, edges)
    recluster(cur, changed, summary, known, observed)


def recluster(cur: Any, changed: Sequence[str], summary: MergeSummary | None = None,
              known: dict[str, RecordFeatures] | None = None,
              observed: dict[str, list[Observation]] | None = None) -> MergeSummary:
    """Cluster again the component around `changed` records and rewrite its residents.

    Also what a steward's decision triggers: the decision is an edge or a split, and the
    component is recomputed with it. `known`, `observed`: features and observations this
    transaction already has (of current versions), so they are not read back.
    """
    summary = summary or MergeSummary(changed_records=len(changed))
    known = known or {}
    refs, before = _locked_component(cur, changed)
    features = {ref: known[ref] for ref in refs if ref in known}
    features.update(store.load_features(cur, [ref for ref in refs if ref not in known]))
    groups = cluster(features.values(), store.edges_within(cur, refs),
                     store.splits_within(cur, refs))
    names = resident_names(groups, before)
    _write(cur, groups, names, before, features, observed or {}, set(changed), summary)
    summary.component_records = len(refs)
    return summary


def _locked_component(cur: Any, changed: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The component's records and their residents, every one of those residents locked.

    Another worker may be rewriting some of them: once their locks are ours, read again (what
    it committed may have grown the component) until a read finds no resident left to lock.
    """
    locked: set[str] = set()
    while True:
        owners = store.residents_of(cur, changed)
        seeds = set(changed) | store.members_of(cur, set(owners.values()))
        refs = sorted(store.component(cur, seeds, MAX_COMPONENT))
        before = store.residents_of(cur, refs)
        waiting = set(before.values()) - locked
        if not waiting:
            return refs, before
        store.lock_residents(cur, waiting)
        locked |= waiting


def resident_names(groups: Sequence[Sequence[Link]], before: dict[str, str]) -> list[str]:
    """Keep a resident's id for the group holding most of its records; new ids otherwise."""
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i]), groups[i][0].ref))
    names: list[str | None] = [None] * len(groups)
    used: set[str] = set()
    for i in order:
        votes = Counter(before[link.ref] for link in groups[i] if link.ref in before)
        for resident, _ in sorted(votes.items(), key=lambda item: (-item[1], item[0])):
            if resident not in used:
                names[i] = resident
                used.add(resident)
                break
        if names[i] is None:
            names[i] = "R" + uuid.uuid4().hex[:15]
    return [name for name in names if name is not None]


def _write(cur: Any, groups: Sequence[Sequence[Link]], names: list[str],
           before: dict[str, str], features: dict[str, RecordFeatures],
           observed: dict[str, list[Observation]], changed: set[str], summary: MergeSummary
           ) -> None:
    """Links, golden records, history, conflicts, review items and change-feed entries."""
    refs = sorted(features)
    observations = {ref: observed[ref] for ref in refs if ref in observed}
    observations.update(store.load_observations(cur, [r for r in refs if r not in observed]))
    gazetteer = load_gazetteer(cur)
    old_members: dict[str, set[str]] = {}
    for ref, resident in before.items():
        old_members.setdefault(resident, set()).add(ref)
    links, changes = [], []
    group_of = {link.ref: i for i, group in enumerate(groups) for link in group}
    loose = store.edges_touching(cur, refs, ["review", "probabilistic", "id_conflict"])
    rewrites = [(group, resident, {link.ref for link in group})
                for group, resident in zip(groups, names, strict=True)]
    rewrites = [(group, resident, members) for group, resident, members in rewrites
                if old_members.get(resident) != members or members & changed]
    had = store.findings_of_residents(cur, [resident for _, resident, _ in rewrites])
    possible: dict[str, set[str]] = {}  # a record's possible matches' sources, for the rules
    for e in loose:
        if e.rule != "id_conflict" and group_of.get(e.a) != group_of.get(e.b):
            possible.setdefault(e.a, set()).add(e.b.split(":", 1)[0])
            possible.setdefault(e.b, set()).add(e.a.split(":", 1)[0])
    written = []
    for group, resident, members in rewrites:
        previous = old_members.get(resident)
        for link in group:
            rule = "new" if link.edge is None else link.edge.rule
            summary.rules[rule] += 1
            evidence = {} if link.edge is None else {
                "with": link.edge.b if link.edge.a == link.ref else link.edge.a,
                "agreed": list(link.edge.agreed)}
            score = None if link.edge is None else min(link.edge.score, 1e9)
            links.append((link.ref, resident, rule, score, evidence))
        facts = [o for ref in sorted(members) for o in observations.get(ref, [])]
        golden, conflicts = golden_record(facts)
        conflict_rows = [("attribute_mismatch", c.attribute, c.__dict__) for c in conflicts]
        conflict_rows += [("id_number_shared", None, {"records": [e.a, e.b]}) for e in loose
                          if e.rule == "id_conflict" and (e.a in members or e.b in members)]
        residence = golden.get("residence_address")
        address = normalize_address(residence and residence.value, gazetteer)
        spellings = [a for ref in sorted(members) for a in features[ref].addresses]
        grid = grid_of(residence and residence.value, spellings, gazetteer)
        waiting = frozenset(s for ref in members for s in possible.get(ref, ()))
        findings = findings_of(ResidentFacts(golden, facts, waiting),
                               lambda place: community_of(place, gazetteer))
        written.append(store.ResidentRecord(resident, golden, grid, address and address.key(),
                                            len(members), history(facts), conflict_rows,
                                            findings))
        changes += [(resident, "finding", {"kind": f.kind, "since": f.since,
                                           "records": list(f.evidence)})
                    for f in findings if f.kind not in had.get(resident, set())]
        change = "created" if previous is None else "updated"
        if previous is not None and previous - members:
            change = "split"
        absorbed = sorted({before[r] for r in members if r in before} - {resident})
        if absorbed:
            change = "merged"
        changes.append((resident, change, {"records": sorted(members), "absorbed": absorbed}))
    review = [e for e in loose if e.rule != "id_conflict" and (
              e.a not in group_of or e.b not in group_of or group_of[e.a] != group_of[e.b])]
    gone = sorted(set(old_members) - set(names))
    store.rewrite_residents(cur, written, gone)
    changes += [(r, "removed", {"merged_into": sorted({names[group_of[m]]
                                                       for m in old_members[r]})})
                for r in gone]
    store.write_links(cur, links)
    store.replace_review_items(cur, refs, review)
    store.add_changes(cur, changes)
    summary.changes.update(change for _, change, _ in changes)

