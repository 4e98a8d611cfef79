"""The matching parameters in the store: which version every merge uses, and the switch to new
ones that queues every stored record to be linked again with them (streams/relink.py).

A switch takes the merge lock exclusively, so it waits for the merges under way and every merge
after it reads the new version; records linked before it are all in the queue it fills, or, when
it was made while a backlog waited, in the queue a later switch fills.
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
    and `events_seen`: the store's size when they were estimated (None for the shipped ones).
    `relink_owed`: they were switched to while a backlog waited, and no record was queued to be
    linked again yet (streams/reestimate.py)."""

    version: int
    parameters: Parameters
    records: int | None = None
    events_seen: int | None = None
    relink_owed: bool = False


def load_parameters(cur: Any) -> StoredParameters:
    """The parameters last estimated from the store, else the ones shipped with the hub."""
    cur.execute("SELECT version, parameters, records, events_seen, relink_owed"
                " FROM hub.match_parameters WHERE id = 1")
    row = cur.fetchone()
    if row is None:
        return StoredParameters(0, Parameters.from_json(json.loads(DEFAULT_PARAMETERS.read_text())))
    version, parameters, records, events_seen, owed = row
    return StoredParameters(version, Parameters.from_json(parameters), records, events_seen, owed)


def relink_owed(cur: Any) -> bool:
    """Whether the stored parameters were switched to while a backlog waited and no record was
    queued for them yet (one small read, for a timer that looks every second)."""
    cur.execute("SELECT relink_owed FROM hub.match_parameters WHERE id = 1")
    row = cur.fetchone()
    return bool(row and row[0])


def current_parameters(cur: Any, held: StoredParameters | None) -> StoredParameters:
    """`held` while it is still the stored version (one small read), else the stored ones.
    Call it holding the merge lock, so that no switch can commit before the merge does."""
    cur.execute("SELECT version FROM hub.match_parameters WHERE id = 1")
    row = cur.fetchone()
    if held is not None and held.version == (row[0] if row else 0):
        return held
    return load_parameters(cur)


def switch_parameters(cur: Any, parameters: Parameters, records: int, events_seen: int,
                      backlog: bool = False) -> int:
    """Store `parameters` as a new version and queue every stored record to be linked again,
    with the blocking keys it is taken in order of (streams/relink.py); returns how many were
    queued. Parameters equal to the stored ones switch nothing (their size is brought up to
    date) and queue only a relink still owed. While a `backlog` waits, the queueing is owed
    instead: the records the backlog brings would need it again."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
    stored = load_parameters(cur)
    if stored.version and stored.parameters == parameters:
        cur.execute("UPDATE hub.match_parameters SET records = %s, events_seen = %s,"
                    " relink_owed = relink_owed AND %s WHERE id = 1",
                    (records, events_seen, backlog))
        return 0 if backlog or not stored.relink_owed else _queue_every_record(cur)
    cur.execute("INSERT INTO hub.match_parameters (id, parameters, version, records, events_seen,"
                " relink_owed) VALUES (1, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " parameters = EXCLUDED.parameters, version = EXCLUDED.version,"
                " records = EXCLUDED.records, events_seen = EXCLUDED.events_seen,"
                " relink_owed = EXCLUDED.relink_owed, estimated_at = now()",
                (json.dumps(parameters.to_json()), stored.version + 1, records, events_seen,
                 backlog))
    return 0 if backlog else _queue_every_record(cur)


def _queue_every_record(cur: Any) -> int:
    cur.execute("INSERT INTO hub.relink_pending (ref, block) SELECT ref, format('%s|%s|%s|%s',"
                " left(birth, 4), left(name, 1), pinyin, birth) FROM hub.source_records"
                " ON CONFLICT DO NOTHING")
    return cur.rowcount
