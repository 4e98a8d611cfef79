"""One batch of events into the resident store, in the caller's transaction.

A record's version is written once, when it lands: its identity features in columns, its facts
in one text (streams/record_store.py). Its edges are computed against the records its lookup
keys find, in one statement. Then each resident the batch touches is worked out again from its
records and written where it differs (streams/resident_store.py), in one of two ways:

- joining: records new to the store whose links reach at most one resident, and whose
  identities together with that resident's hold one person (clustering.Identities.one_person:
  at most one trusted ID number, at most one person number per department), join it (or make
  a new one). Nothing else can regroup: the clustering (streams/clustering.py) refuses a union
  only on identities that say two people or a steward's split, and such records bring
  neither, so a clean run puts them there too; no other record is read.
- reclustering: otherwise (a correction, links to two residents, a second number, a steward's
  decision) the whole component around the records, over linking edges and confirmations, is
  clustered again from scratch (streams/regroup.py).

Either way the store ends as a clean run of the same records would leave it, whatever order
they came in. One piece of evidence is a third record's: what the spouse a record names says of
whom they married (streams/spouses.py). So when a version naming a spouse lands, the records
naming its number as their spouse's are linked again too.

Workers merge side by side without locking blocking keys, so two batches whose records should
meet may each miss the other's, uncommitted. Each merge therefore leaves a recheck (its records
and the snapshot its lookups saw); after it commits, `recheck` reads the records written by
transactions that snapshot could not see and merges again those of its records whose lookup
keys meet one or whose edges end at one. Of two such merges the later to commit always finds
the earlier one's records then, because `a` finds `b` exactly when `b` finds `a`
(matching.RecordKeys).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from deploy.locks import MERGE_LOCK
from schemas.declarations import SPOUSE
from schemas.departments import department
from streams import household_store as household
from streams import recheck_store as rechecks
from streams import record_store as records
from streams import resident_store as residents
from streams.clustering import Identities, strength, strongest_first
from streams.facts import Observation, Relative, observations_of, relatives_of
from streams.features import RecordFeatures, features_of
from streams.matching import Edge, Parameters, RecordKeys, keys_of
from streams.merge_summary import MergeSummary
from streams.record_store import edge_from_row
from streams.regroup import component_around, new_resident_name, recluster, write_groups
from streams.resident_state import LOOSE_RULES
from streams.resolve import MAX_BLOCK, edges_under
from streams.spouses import partners_of

# Merges take MERGE_LOCK shared (deploy/locks.py); between them, resident locks
# (record_store.lock_residents) keep two transactions from rewriting the same residents.


@dataclass(frozen=True)
class Version:
    """A record's version as the batch brings it: what is stored of it, worked out once."""

    features: RecordFeatures
    event_id: str
    facts: list[Observation]
    relatives: list[Relative]


def latest_versions(events: Sequence[dict[str, Any]]) -> dict[str, Version]:
    """Each record's latest version in the batch (pure: before any lock is taken)."""
    latest: dict[str, Version] = {}
    for event in events:
        features = features_of(event)
        if features.ref not in latest or latest[features.ref].features.version < \
                features.version:
            latest[features.ref] = Version(features, event["id"], observations_of(event),
                                           relatives_of(event))
    return latest


def merge_events(cur: Any, events: Sequence[dict[str, Any]], parameters: Parameters
                 ) -> MergeSummary:
    """Apply `events` (already deduplicated by id) to the store."""
    versions = latest_versions(events)
    rows = [records.record_row(v.features, v.event_id, v.facts) for v in versions.values()]
    keys = _protected({ref: v.features for ref, v in versions.items()})
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
    changed = records.upsert_records(cur, rows)
    summary = MergeSummary(changed_records=len(changed))
    if not changed:
        return summary
    new = {ref for ref, fresh in changed.items() if fresh}
    # the numbers of versions naming a spouse, before and now: what they say is the evidence of
    # the records naming those numbers as their spouse's, which are linked again below
    naming = [ref for ref in changed if ref not in new and _names_spouses(ref)]
    said = rechecks.keys_of_kind(cur, naming, "si:") if naming else set()
    said |= {k for ref in changed for k in keys[ref].stored if k.startswith("si:")}
    records.replace_keys(cur, {ref: keys[ref].stored for ref in changed}, new)
    records.replace_relations(cur, sorted(changed),
                              [r for ref in changed for r in versions[ref].relatives], new)
    _link(cur, {ref: versions[ref].features for ref in changed}, keys, parameters, summary,
          {ref: versions[ref].facts for ref in changed}, new)
    namers = rechecks.stored_under(cur, None, {"sn:" + k[3:] for k in said}) if said else set()
    if namers - set(changed):
        link_again(cur, namers - set(changed), parameters, summary)
    return summary


def _names_spouses(ref: str) -> bool:
    """Whether the record's department declares a spouse it may name."""
    return any(rule.kind == SPOUSE for rule in department(ref.split(":", 1)[0]).relations)


def recheck(cur: Any, parameters: Parameters, known: dict[str, frozenset[str]]
            ) -> MergeSummary | None:
    """Take one committed merge's recheck (any worker's) and merge again those of its records
    that records it could not see now meet; None when none is waiting. `known`: lookup keys
    this worker's merges computed (MergeSummary.lookups), the others are computed again."""
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
    claimed = rechecks.claim_recheck(cur)
    if claimed is None:
        return None
    summary = MergeSummary()
    unseen = rechecks.unseen_records(cur, claimed)
    again: set[str] = set()
    if unseen:
        lookups = {ref: known[ref] for ref in claimed.refs if ref in known}
        if len(lookups) < len(claimed.refs):  # another worker's recheck, or a crashed one's
            stored = records.load_features(cur, [r for r in claimed.refs if r not in lookups])
            lookups |= {ref: keys.lookup for ref, keys in _protected(stored).items()}
        keys = rechecks.stored_keys(cur, unseen)
        again = {ref for ref, lookup in lookups.items() if lookup & keys}
        again |= rechecks.linked_to(cur, claimed.refs, unseen)
        again |= _household_again(cur, claimed.refs, unseen, lookups, keys)
    summary.rechecks["merged_again" if again else "nothing_unseen"] += 1
    if again:
        link_again(cur, again, parameters, summary)
    return summary


def _household_again(cur: Any, refs: Sequence[str], unseen: set[str],
                     lookups: dict[str, frozenset[str]], keys: set[str]) -> set[str]:
    """What a recheck links again for the spouse evidence (streams/spouses.py): unseen records
    naming one of `refs`' numbers as their spouse's (these records' word is their evidence),
    and those of `refs` whose evidence passes through an unseen record."""
    naming = any(k.startswith("si:") for lookup in lookups.values() for k in lookup)
    if not naming and not any(k.startswith("sn:") for k in keys):
        return set()
    said = {k for lookup in lookups.values() for k in lookup if k.startswith("sn:")} & keys
    again = rechecks.stored_under(cur, unseen, said) if said else set()
    batch = records.load_features(cur, refs)
    in_hand = {**{ref: c.features for ref, c in household.reach(cur, batch, {}).items()},
               **batch}
    through = household.paths(batch.values(), in_hand.values(), partners_of(in_hand.values()))
    return again | {ref for ref, via in through.items() if via & unseen}


def link_again(cur: Any, refs: Collection[str], parameters: Parameters, summary: MergeSummary
               ) -> None:
    """Link these stored records again (their current versions) with `parameters`, as a
    correction of each would: edges worked out afresh, their residents reclustered."""
    features = records.load_features(cur, sorted(refs))
    _link(cur, features, _protected(features), parameters, summary)


def _protected(features: dict[str, RecordFeatures]) -> dict[str, RecordKeys]:
    return records.protected_keys({ref: keys_of(f) for ref, f in features.items()})


def _link(cur: Any, batch: dict[str, RecordFeatures], keys: dict[str, RecordKeys],
          parameters: Parameters, summary: MergeSummary,
          facts: dict[str, list[Observation]] | None = None, new: set[str] | None = None
          ) -> None:
    """These records' edges against every record their lookup keys find, then the residents
    they touch, joined or reclustered (the module's docstring); noted for a recheck first.
    `facts`: the facts of these records when they are versions landing now (None: stored
    records linked again); `new`: those new to the store."""
    changed = sorted(batch)
    rechecks.note_recheck(cur, changed)  # its snapshot sees no more than the lookups below
    summary.lookups.update((ref, keys[ref].lookup) for ref in changed)
    found = records.candidates(cur, {k for ref in changed for k in keys[ref].lookup},
                               MAX_BLOCK, changed)
    found |= household.reach(cur, batch, found)
    known = {**{ref: c.features for ref, c in found.items()}, **batch}
    edges = edges_under(list(batch.values()), {ref: keys[ref].lookup for ref in changed},
                        _by_key(found, batch, keys), list(known.values()), parameters,
                        partners_of(known.values()))
    # a scored pair that came or went changes what both its residents show (review items,
    # shared numbers): a record outside the batch is worked out again too
    shown = {ref for a, b, rule in records.replace_edges(cur, changed, edges, new or set())
             if rule in LOOSE_RULES for ref in (a, b)}
    resident_of = {ref: c.resident for ref, c in found.items() if ref not in batch}
    joins, seeds = _plan(batch, new or set(), edges, resident_of)
    seeds |= shown - set(batch)
    # the residents joined and those around the seeds, locked in one sorted round: locked in
    # two (the joins', then the seeds' component), two workers' batches deadlocked up to 8
    # times in a 20,000-person backfill, each losing a second and one batch's work
    # (bench/README.md, "2026-12-07 (late evening)")
    around = component_around(cur, sorted(seeds))[1] if seeds else {}
    locked = {j.resident for j in joins if j.resident is not None} | set(around.values())
    records.lock_residents(cur, locked)
    seeds |= _join(cur, joins, batch, facts or {}, edges, summary)
    if seeds:
        recluster(cur, sorted(seeds), summary, known, facts, touched=shown | set(facts or {}),
                  locked=locked)


def _by_key(found: dict[str, records.Candidate], batch: dict[str, RecordFeatures],
            keys: dict[str, RecordKeys]) -> dict[str, list[RecordFeatures]]:
    """The batch's records and what its lookups found, by their protected stored keys: a
    stored record's keys as the lookup matched them (the others meet no lookup), so none is
    worked out again."""
    index: dict[str, list[RecordFeatures]] = defaultdict(list)
    for ref, candidate in found.items():
        if ref not in batch:  # a batch record's stored version: its keys are the batch's
            for key in candidate.keys:
                index[key].append(candidate.features)
    for ref, record in batch.items():
        for key in keys[ref].stored:
            index[key].append(record)
    return index


@dataclass
class Join:
    """New records that join `resident` (None: a resident of their own), and the stored records
    their links reach (all of that resident's)."""

    refs: set[str] = field(default_factory=set)
    resident: str | None = None
    reached: set[str] = field(default_factory=set)


def _plan(batch: dict[str, RecordFeatures], new: set[str], edges: Sequence[Edge],
          resident_of: dict[str, str | None]) -> tuple[list[Join], set[str]]:
    """Group the batch's records by their links (a stored record standing for its resident):
    groups that can join go to `_join`, the rest are seeds for reclustering."""
    parent: dict[Any, Any] = {}

    def root(node: Any) -> Any:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def node(ref: str) -> Any:  # a stored record stands for its resident
        if ref in batch:
            return ref
        return ("resident", resident_of[ref]) if resident_of.get(ref) else ("record", ref)

    for ref in batch:
        root(ref)
    for e in edges:
        if e.links:
            parent[root(node(e.a))] = root(node(e.b))
    groups: dict[Any, Join] = {}
    seeds: set[str] = set()
    for e in edges:  # the stored records each group reaches
        if e.links:
            for ref in (e.a, e.b):
                if ref not in batch:
                    groups.setdefault(root(node(ref)), Join()).reached.add(ref)
    for ref in batch:
        groups.setdefault(root(ref), Join()).refs.add(ref)
    joins = []
    for group in groups.values():
        owners = {resident_of.get(ref) for ref in group.reached}
        if group.refs - new or None in owners or len(owners) > 1:
            seeds |= group.refs
        else:
            group.resident = owners.pop() if owners else None
            joins.append(group)
    return joins, seeds


def _join(cur: Any, joins: list[Join], batch: dict[str, RecordFeatures],
          facts: dict[str, list[Observation]], edges: Sequence[Edge], summary: MergeSummary
          ) -> set[str]:
    """Write the joins; the refs of those that turn out to need reclustering after all (their
    resident moved before its lock was ours, or their identities would say two people)."""
    existing = {j.resident for j in joins if j.resident is not None}  # locked by the caller
    moved = records.residents_of(cur, [ref for j in joins for ref in j.reached])
    members, _, stored_links = residents.load_members(cur, existing)
    by_resident: dict[str, set[str]] = {}
    for ref, (resident, *_rest) in stored_links.items():
        by_resident.setdefault(resident, set()).add(ref)
    again: set[str] = set()
    groups: list[tuple[str, frozenset[str]]] = []
    for j in joins:
        inside = by_resident.get(j.resident, set()) if j.resident else set()
        identities = Identities.of([*(batch[r] for r in j.refs), *(members[r] for r in inside)])
        if any(moved.get(ref) != j.resident for ref in j.reached) or not identities.one_person():
            again |= j.refs
            continue
        groups.append((j.resident or new_resident_name(), frozenset(inside | j.refs)))
    if groups:
        joined = {ref for j in joins for ref in j.refs} - again
        summary.paths["joined"] += len(joined)
        links = _join_links(groups, joined, edges, stored_links)
        summary.rules.update(links[ref][1] for ref in joined)
        write_groups(cur, groups, {**members, **batch}, facts, set(), links, {}, summary,
                     landed=joined, touched=joined)
    return again


def _join_links(groups: list[tuple[str, frozenset[str]]], joined: set[str],
                edges: Sequence[Edge], stored: dict[str, residents.Link]
                ) -> dict[str, residents.Link]:
    """Why each record is in its group, as a clean run would say: its strongest link inside the
    group. A joined record's comes from the batch's edges; a member's stored one stays unless
    one of those edges is stronger (the group only grew, so nothing else can be)."""
    group_of = {ref: resident for resident, group in groups for ref in group}
    best: dict[str, Edge] = {}
    for e in strongest_first(e for e in edges if e.links):
        if group_of.get(e.a) is not None and group_of.get(e.a) == group_of.get(e.b):
            for ref in (e.a, e.b):
                best.setdefault(ref, e)
    links = {ref: residents.link_of(ref, group_of[ref], best.get(ref)) for ref in joined}
    for ref, edge in best.items():
        if ref in joined:
            continue
        _, rule, score, matched, agreed = stored[ref]
        kept = None if rule == "new" else edge_from_row(*sorted((ref, matched)), rule, score,
                                                         list(agreed))
        if kept is None or strength(edge) < strength(kept):
            links[ref] = residents.link_of(ref, group_of[ref], edge)
    return links


