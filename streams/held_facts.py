"""Records' facts, read from the store once per process and held by version.

A version's facts are written once when it lands and never change (a rekey seals them anew,
their opened values stay), so (ref, version) names them for good. The merge works a resident
out again from all its records' facts whenever one joins it: without this, every join read
and decoded the facts of every member again (9 % of the live merge's samples).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from streams.facts import Observation
from streams.record_store import facts_of

HELD_VERSIONS = 1 << 16  # ~12 observations each: some 100 MiB at most

_held: OrderedDict[tuple[str, str], Sequence[Observation]] = OrderedDict()


def hold(versions: Mapping[str, str], facts: Mapping[str, Sequence[Observation]]) -> None:
    """Keep the facts of these versions (ref → version), dropping the longest unused."""
    for ref, version in versions.items():
        _held[(ref, version)] = facts[ref]
        _held.move_to_end((ref, version))
    while len(_held) > HELD_VERSIONS:
        _held.popitem(last=False)


def load_facts(cur: Any, versions: Mapping[str, str]) -> dict[str, Sequence[Observation]]:
    """The facts of these records' versions (ref → version, each the current one): held ones
    from memory, the others read from their stored rows and held."""
    found: dict[str, Sequence[Observation]] = {}
    for ref, version in versions.items():
        facts = _held.get((ref, version))
        if facts is not None:
            _held.move_to_end((ref, version))
            found[ref] = facts
    missing = [ref for ref in versions if ref not in found]
    if missing:
        cur.execute("SELECT ref, version, facts FROM hub.source_records WHERE ref = ANY(%s)",
                    (missing,))
        read = {ref: (version, facts_of(ref, text)) for ref, version, text in cur.fetchall()}
        hold({ref: version for ref, (version, _) in read.items()},
             {ref: facts for ref, (_, facts) in read.items()})
        found.update((ref, facts) for ref, (_, facts) in read.items())
    return found
