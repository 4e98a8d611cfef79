"""The store's estimation sample: streams/estimation_sample.py's rule in SQL, so a processor
reads a bounded number of records whatever the store holds (a few statements; `md5` and the
"C" collation order refs as Python's `hashlib.md5` and `str` do)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from deploy.id_keys import process_keyring
from streams import id_protection as ids
from streams.estimation_sample import M_PAIRS, U_RECORDS, EstimationSample, Group, partners_for
from streams.record_store import FEATURE_COLUMNS, features_of_row, load_features
from streams.spouses import partners_of

COLUMNS = ", ".join(f"s.{c}" for c in FEATURE_COLUMNS)


def stored_sample(cur: Any, labelled_refs: Collection[str], u_records: int = U_RECORDS,
                  m_pairs: int = M_PAIRS) -> EstimationSample:
    """The sample of the stored records (each ref's current version), naming the records of
    `labelled_refs` (the limits are the module's but in tests)."""
    cur.execute(f"""SELECT {COLUMNS} FROM hub.source_records s
                     ORDER BY md5(s.ref) COLLATE "C", s.ref COLLATE "C" LIMIT %s""", (u_records,))
    unrelated = sorted(map(features_of_row, cur.fetchall()), key=lambda r: r.ref)
    sample = EstimationSample(unrelated, _first_groups(cur, "id_hash", m_pairs),
                              _first_groups(cur, "person_key", m_pairs),
                              load_features(cur, labelled_refs), {})
    named = {s for r in sample.records() for s in r.spouses}
    protect = ids.key_protector(process_keyring())
    cur.execute(f"""SELECT {COLUMNS} FROM hub.source_records s
                     WHERE s.ref IN (SELECT ref FROM hub.record_keys WHERE key = ANY(%s))""",
                ([protect(f"si:{number}") for number in sorted(named)],))
    told = partners_of(map(features_of_row, cur.fetchall()))
    return replace(sample, partners=partners_for(sample.records(), told))


def _first_groups(cur: Any, column: str, m_pairs: int) -> list[Group]:
    """estimation_sample.first_groups, grouping by `column` (the trusted number's lookup hash,
    or the person number)."""
    cur.execute(f"""
        WITH groups AS (
            SELECT {column} AS key, md5(min(ref COLLATE "C")) AS rank,
                   min(ref COLLATE "C") AS first, count(*) * (count(*) - 1) / 2 AS pairs
              FROM hub.source_records WHERE {column} IS NOT NULL
             GROUP BY {column} HAVING count(*) > 1),
        ranked AS (
            SELECT key, rank, first,
                   sum(pairs) OVER (ORDER BY rank COLLATE "C", first) - pairs AS before
              FROM groups)
        SELECT {COLUMNS}, g.rank, g.first FROM ranked g
          JOIN hub.source_records s ON s.{column} = g.key
         WHERE g.before < %s
         ORDER BY g.rank COLLATE "C", g.first, s.ref COLLATE "C"
    """, (m_pairs,))
    groups: list[Group] = []
    current = None
    for *row, rank, first in cur.fetchall():
        if (rank, first) != current:
            groups.append([])
            current = (rank, first)
        groups[-1].append(features_of_row(row))
    return groups
