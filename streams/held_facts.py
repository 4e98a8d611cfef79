"""Records' facts held in memory by version, so a version's facts are decoded once.

A version's facts are written once when it lands and never change (a rekey seals them anew,
their opened values stay). The merge works a resident out again from all its records' facts
whenever one joins it: every join read and decoded the facts of every member again (9 % of the
live merge's samples). The store still says which version is current; only the text of a
version held here is not sent again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from streams.facts import Observation
from streams.record_store import facts_of

HELD_RECORDS = 1 << 16  # all 51,209 records of 20,000 persons held: peak RSS +26 to 94 MiB

_held: OrderedDict[str, tuple[str, Sequence[Observation]]] = OrderedDict()  # ref → version, facts
_lock = threading.Lock()  # a worker's relinking thread merges beside its store step


def hold(versions: Mapping[str, tuple[str, Sequence[Observation]]]) -> None:
    """Keep these records' facts (ref → version, facts), dropping the longest unused."""
    with _lock:
        for ref, held in versions.items():
            _held[ref] = held
            _held.move_to_end(ref)
        while len(_held) > HELD_RECORDS:
            _held.popitem(last=False)


def load_facts(cur: Any, refs: Iterable[str]) -> dict[str, Sequence[Observation]]:
    """The facts of these records' stored versions: the text of a version held here stays in
    the store, the others are read, decoded and held."""
    wanted = list(refs)
    with _lock:
        held = {ref: _held[ref] for ref in wanted if ref in _held}
    cur.execute("""
        SELECT s.ref, s.version, CASE WHEN s.version IS DISTINCT FROM h.version THEN s.facts END
          FROM unnest(%s::text[], %s::text[]) AS h (ref, version)
          JOIN hub.source_records s ON s.ref = h.ref""",
                (wanted, [held[ref][0] if ref in held else None for ref in wanted]))
    found: dict[str, Sequence[Observation]] = {}
    read: dict[str, tuple[str, Sequence[Observation]]] = {}
    for ref, version, text in cur.fetchall():
        if text is None:
            found[ref] = held[ref][1]
        else:
            read[ref] = (version, facts_of(ref, text))
            found[ref] = read[ref][1]
    hold({ref: held[ref] for ref in found if ref not in read} | read)  # used: kept longer
    return found
