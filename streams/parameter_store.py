"""The matching parameters in the store: which version every merge uses, and the switch to new
ones that queues every stored record to be linked again with them (streams/relink.py).

A switch takes the merge lock exclusively, so it waits for the merges under way and every merge
after it reads the new version; records linked before it are all in the queue it fills.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.locks import MERGE_LOCK
from streams.matching import Parameters

DEFAULT_PARAMETERS = Path(__file__).parent / "default_parameters.json"


@dataclass(frozen=True)
class StoredParameters:
    """The parameters merges use now; version 0 is the ones shipped with the hub. `records`
    and `events_seen`: the store's size when they were estimated (None for the shipped ones)."""

    version: int
    parameters: Parameters
    records: int | None = None
    events_seen: int | None = None


def load_parameters(cur: Any) -> StoredParameters:
    """The parameters last estimated from the store, else the ones shipped with the hub."""
    cur.execute("SELECT version, parameters, records, events_seen FROM hub.match_parameters"
                " WHERE id = 1")
    row = cur.fetchone()
    if row is None:
        return StoredParameters(0, Parameters.from_json(json.loads(DEFAULT_PARAMETERS.read_text())))
    version, parameters, records, events_seen = row
    return StoredParameters(version, Parameters.from_json(parameters), records, events_seen)


def current_parameters(cur: Any, held: StoredParameters | None) -> StoredParameters:
    """`held` while it is still the stored version (one small read), else the stored ones.
    Call it holding the merge lock, so that no switch can commit before the merge does."""
    cur.execute("SELECT version FROM hub.match_parameters WHERE id = 1")
    row = cur.fetchone()
    if held is not None and held.version == (row[0] if row else 0):
        return held
    return load_parameters(cur)


def switch_parameters(cur: Any, parameters: Parameters, records: int, events_seen: int) -> int:
    """Store `parameters` as a new version and queue every stored record to be linked again,
    with the blocking keys it is taken in order of (streams/relink.py); returns how many were
    queued (0 and nothing switched when they equal the stored ones, whose size is then brought
    up to date)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
    stored = load_parameters(cur)
    size = (records, events_seen)
    if stored.version and stored.parameters == parameters:
        cur.execute("UPDATE hub.match_parameters SET records = %s, events_seen = %s"
                    " WHERE id = 1", size)
        return 0
    cur.execute("INSERT INTO hub.match_parameters (id, parameters, version, records, events_seen)"
                " VALUES (1, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " parameters = EXCLUDED.parameters, version = EXCLUDED.version,"
                " records = EXCLUDED.records, events_seen = EXCLUDED.events_seen,"
                " estimated_at = now()",
                (json.dumps(parameters.to_json()), stored.version + 1, *size))
    cur.execute("INSERT INTO hub.relink_pending (ref, block) SELECT ref, format('%s|%s|%s|%s',"
                " left(birth, 4), left(name, 1), pinyin, birth) FROM hub.source_records"
                " ON CONFLICT DO NOTHING")
    return cur.rowcount
