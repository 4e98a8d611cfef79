"""Residents worked out again from their records: the component around some records clustered
again from scratch (what a correction, a second number, links to two residents or a steward's
decision calls for), and any groups of records written as residents where they differ.

streams/merge.py joins what it can without this and reclusters the rest here; a steward's
decision (streams/steward.py) reclusters here too. The component's residents are locked before
it is read for good: another worker may be rewriting them (`_locked_component`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from streams import held_facts
from streams import record_store as records
from streams import resident_store as residents
from streams import task_store as tasks
from streams.clustering import Link, cluster
from streams.facts import Observation
from streams.features import RecordFeatures
from streams.grids import load_gazetteer
from streams.merge_summary import MergeSummary
from streams.resident_state import LOOSE_RULES, resident_states, review_items

MAX_COMPONENT = 50_000


def recluster(cur: Any, changed: Sequence[str], summary: MergeSummary | None = None,
              known: dict[str, RecordFeatures] | None = None,
              observed: dict[str, list[Observation]] | None = None,
              touched: Collection[str] | None = None, locked: Collection[str] = ()
              ) -> MergeSummary:
    """Cluster again the component around `changed` records and rewrite its residents where
    they differ.

    Also what a steward's decision triggers: the decision is an edge or a split, and the
    component is recomputed with it. `known`: features this transaction already has (of
    current versions), so they are not read back; `observed`: the facts of versions landing in
    it. `touched` (default: `changed`): the records whose version or scored pairs changed in
    this transaction; a resident that keeps its members and holds none of them is not worked
    out again. `locked`: residents whose locks this transaction holds already.
    """
    summary = summary or MergeSummary(changed_records=len(changed))
    known = known or {}
    refs, before = _locked_component(cur, changed, set(locked))
    features = {ref: known[ref] for ref in refs if ref in known}
    features.update(records.load_features(cur, [ref for ref in refs if ref not in known]))
    clustered = cluster(features.values(), records.edges_within(cur, refs),
                        records.splits_within(cur, refs))
    names = resident_names(clustered, before)
    groups = [(name, frozenset(link.ref for link in group))
              for group, name in zip(clustered, names, strict=True)]
    links = {link.ref: residents.link_of(link.ref, name, link.edge)
             for group, name in zip(clustered, names, strict=True) for link in group}
    for link in links.values():
        summary.rules[link[1]] += 1
    summary.paths["reclustered"] += len(changed)
    write_groups(cur, groups, features, observed or {}, set(before.values()), links,
                 residents.load_links(cur, refs), summary, landed=set(observed or {}),
                 touched=set(changed if touched is None else touched))
    summary.component_records = len(refs)
    return summary


def component_around(cur: Any, changed: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The component around `changed` records and their residents, as the store holds them."""
    owners = records.residents_of(cur, changed)
    seeds = set(changed) | records.members_of(cur, set(owners.values()))
    refs = sorted(records.component(cur, seeds, MAX_COMPONENT))
    return refs, records.residents_of(cur, refs)


def _locked_component(cur: Any, changed: Sequence[str], locked: set[str]
                      ) -> tuple[list[str], dict[str, str]]:
    """The component's records and their residents, every one of those residents locked
    (`locked`: those this transaction holds already).

    Another worker may be rewriting some of them: once their locks are ours, read again (what
    it committed may have grown the component) until a read finds no resident left to lock.
    """
    while True:
        refs, before = component_around(cur, changed)
        waiting = set(before.values()) - locked
        if not waiting:
            return refs, before
        records.lock_residents(cur, waiting)
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
            names[i] = new_resident_name()
    return [name for name in names if name is not None]


def new_resident_name() -> str:
    return "R" + uuid.uuid4().hex[:15]


def write_groups(cur: Any, groups: list[tuple[str, frozenset[str]]],
                 features: dict[str, RecordFeatures], facts: dict[str, list[Observation]],
                 previous: set[str], links: dict[str, residents.Link],
                 stored_links: dict[str, residents.Link], summary: MergeSummary,
                 landed: set[str], touched: set[str]) -> None:
    """Work the groups' residents out again from their records and write what differs: links,
    golden records, conflicts, findings, review items, change-feed entries. `previous`: the
    residents the groups' records belonged to (those no group keeps are gone). The change feed
    tells of a resident whose members changed or one of whose records `landed` a version.

    A resident's state is made of its members' features and facts and the scored pairs
    touching them, so one that keeps its members and holds none of the `touched` records
    (whose version or scored pairs changed) is left as it is: what linking again with new
    parameters mostly meets, where only scores move."""
    refs = sorted({ref for _, members in groups for ref in members})
    before = {ref: link[0] for ref, link in stored_links.items()}
    had: dict[str, set[str]] = {}
    for ref, resident in before.items():
        had.setdefault(resident, set()).add(ref)
    moved = [(name, members) for name, members in groups
             if had.get(name) != members or members & touched]
    moved_refs = sorted({ref for _, members in moved for ref in members})
    known = {ref: facts[ref] for ref in moved_refs if ref in facts}
    held_facts.hold({ref: (features[ref].version, known[ref]) for ref in known})
    known.update(held_facts.load_facts(cur, [ref for ref in moved_refs if ref not in facts]))
    loose = records.edges_touching(cur, refs, LOOSE_RULES)
    states = resident_states(moved, features, known, loose, load_gazetteer(cur))
    names = {name for name, _ in groups}
    gone = sorted(previous - names)
    stored = residents.load_stored(cur, {name for name, _ in moved} | set(gone))
    residents.write_states(cur, states, stored, gone)
    tasks.write_tasks(cur, states)
    residents.write_links(cur, links, stored_links)
    residents.replace_review_items(cur, refs, review_items(groups, loose))
    changes: list[tuple[str, str, dict[str, Any]]] = []
    for state in states:
        found = stored.findings.get(state.resident, {})
        changes += [(state.resident, "finding", {"kind": f.kind, "since": f.since,
                                                 "records": list(f.evidence)})
                    for f in state.findings if f.kind not in found]
        old = had.get(state.resident, set())
        if old == state.members and not state.members & landed:
            continue
        change = "created" if state.resident not in stored.columns else "updated"
        if old - state.members:
            change = "split"
        absorbed = sorted({before[r] for r in state.members if r in before} - {state.resident})
        if absorbed:
            change = "merged"
        changes.append((state.resident, change, {"records": sorted(state.members),
                                                 "absorbed": absorbed}))
    group_of = {ref: name for name, members in groups for ref in members}
    changes += [(r, "removed", {"merged_into": sorted({group_of[m] for m, resident
                                                       in before.items() if resident == r})})
                for r in gone]
    residents.add_changes(cur, changes)
    summary.changes.update(change for _, change, _ in changes)
