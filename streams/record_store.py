"""The identity side of the store: each record's current version with its features in typed
columns and its facts in one text, written once when the version lands; blocking keys, edges,
candidates and components (every function runs in the caller's transaction).

ID numbers never reach the database in clear: a record's number is sealed, a trusted one also
kept as its lookup hash; facts holding one are sealed where they sit (streams/id_protection.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from deploy.id_keys import process_keyring
from schemas.declarations import Verification
from streams import id_protection as ids
from streams.clustering import Split
from streams.estimate import LabelledPair
from streams.facts import Observation, Relative
from streams.features import RecordFeatures, addresses_of
from streams.json_text import json_text, json_value
from streams.matching import Edge, RecordKeys
from streams.store_io import copy_rows, staged_rows, upsert_rows

LINKING_RULES = ["department_key", "id_number", "probabilistic"]
RESIDENT_LOCKS = 7304  # advisory lock namespace (the two-int form)
FEATURE_COLUMNS = ("ref", "person_key", "id_sealed", "id_suspect", "id_digits_sealed", "name",
                   "pinyin", "birth", "sex", "phone", "addresses", "version", "spouses_sealed")
STAGED = ("source", "record_id", "event_id", "version", "person_key", "id_sealed", "id_hash",
          "id_suspect", "id_digits_sealed", "name", "pinyin", "birth", "sex", "phone",
          "addresses", "facts", "spouses_sealed")


def record_row(features: RecordFeatures, event_id: str, facts: Sequence[Observation]
               ) -> tuple[Any, ...]:
    """A version's hub.source_records row (the STAGED columns), its numbers sealed: pure, so
    the caller can build it before it takes the merge lock."""
    keyring = process_keyring()
    f = features
    trusted = f.id_number if f.id_number and not f.id_suspect else None
    return (f.source, f.ref.split(":", 1)[1], event_id, f.version, f.person_key,
            f.id_number and ids.seal(keyring, f.id_number),
            trusted and ids.lookup_hash(keyring, trusted), f.id_suspect,
            f.id_digits and ids.seal(keyring, f.id_digits), f.name, f.pinyin, f.birth, f.sex,
            f.phone, list(f.address_texts), facts_text(facts),
            ids.seal(keyring, ",".join(sorted(f.spouses))) if f.spouses else None)


def facts_text(facts: Iterable[Observation]) -> str:
    """A version's facts as stored: [[attribute, value, valid_from], ...], numbers sealed; a
    claim to verify adds [..., expect, task]."""
    keyring = process_keyring()
    return json_text([[o.attribute, ids.seal_document(keyring, o.value), o.valid_from,
                       *((o.claim.expect, o.claim.task) if o.claim else ())] for o in facts])


def facts_of(ref: str, text: str) -> list[Observation]:
    """The facts a stored version states (opened), as observations of its record."""
    keyring = process_keyring()
    source = ref.split(":", 1)[0]
    return [Observation(attribute, ids.open_document(keyring, value), valid_from, source, ref,
                        Verification(*claim) if claim else None)
            for attribute, value, valid_from, *claim in json_value(text)]


def features_of_row(row: Sequence[Any]) -> RecordFeatures:
    """A record's features from its FEATURE_COLUMNS, numbers opened."""
    keyring = process_keyring()
    ref, person_key, sealed, suspect, digits, name, pinyin, birth, sex, phone, texts, version, \
        spouses = row
    return RecordFeatures(
        ref=ref, source=ref.split(":", 1)[0], person_key=person_key,
        id_number=sealed and ids.open_sealed(keyring, sealed),
        id_digits=digits and ids.open_sealed(keyring, digits), id_suspect=suspect, name=name,
        pinyin=pinyin, birth=birth, sex=sex, addresses=addresses_of(tuple(texts)), phone=phone,
        version=version, address_texts=tuple(texts),
        spouses=frozenset(ids.open_sealed(keyring, spouses).split(",")) if spouses
        else frozenset())


def upsert_records(cur: Any, rows: Sequence[tuple[Any, ...]]) -> dict[str, bool]:
    """Store each version unless a later one is stored, noting this transaction as its writer
    (for rechecks): the refs whose version changed, each True when it is new to the store."""
    if not rows:
        return {}
    select, params = staged_rows(cur, "hub.source_records", STAGED, rows)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in STAGED[2:])
    cur.execute(f"""
        INSERT INTO hub.source_records ({', '.join(STAGED)}, writer)
        SELECT *, pg_current_xact_id() FROM ({select}) versions
        ON CONFLICT (source, record_id) DO UPDATE SET {updates}, writer = EXCLUDED.writer
        WHERE hub.source_records.version < EXCLUDED.version
        RETURNING ref, xmax = 0""", params)
    return dict(cur.fetchall())


def latest_steward_decisions(cur: Any) -> list[LabelledPair]:
    """Each pair's latest steward decision (a later one overrides), in decision order: the
    labelled pairs `sanwang estimate` learns from."""
    cur.execute("""
        SELECT a, b, kind FROM (
            SELECT DISTINCT ON (least(a, b), greatest(a, b)) a, b, kind, decision_id
              FROM hub.steward_decisions
             ORDER BY least(a, b), greatest(a, b), decision_id DESC) latest
         ORDER BY decision_id""")
    return [LabelledPair(a, b, kind == "confirm") for a, b, kind in cur.fetchall()]


def load_features(cur: Any, refs: Iterable[str]) -> dict[str, RecordFeatures]:
    cur.execute(f"SELECT {', '.join(FEATURE_COLUMNS)} FROM hub.source_records"
                " WHERE ref = ANY(%s)", (list(refs),))
    return {f.ref: f for f in map(features_of_row, cur.fetchall())}


class Candidate(NamedTuple):
    """A stored record a lookup found: its features, its resident, and the (protected) keys
    it was found under, which the merge indexes instead of working them out again."""

    features: RecordFeatures
    resident: str | None
    keys: list[str]


def candidates(cur: Any, keys: Iterable[str], max_block: int, in_hand: Iterable[str]
               ) -> dict[str, Candidate]:
    """Records under any of the (protected) keys, with their residents and the keys that found
    them, leaving out keys too common to mean anything: one statement, one pass over the keys'
    rows. Records `in_hand` (the batch's own, whose keys are stored before its lookups) count
    in their keys' blocks but are not read back: 1.84 rows per record instead of 3.08 at 20,000
    persons. NOT IN a subquery is hashed; `<> ALL` over the array parameter compared each row
    with every element, and made the lookup four times as dear (bench/README.md, "2026-12-08
    (early morning)")."""
    cur.execute(f"""
        SELECT {', '.join('s.' + c for c in FEATURE_COLUMNS)}, l.resident_id, c.keys
          FROM (SELECT ref, array_agg(key) AS keys FROM (
                  SELECT ref, key, count(*) OVER (PARTITION BY key) AS block
                    FROM hub.record_keys WHERE key = ANY(%s)) found
                 WHERE block <= %s AND ref NOT IN (SELECT unnest(%s::text[])) GROUP BY ref) c
          JOIN hub.source_records s ON s.ref = c.ref
          LEFT JOIN hub.source_links l ON l.ref = s.ref""",
                (sorted(set(keys)), max_block, sorted(set(in_hand))))
    return {row[0]: Candidate(features_of_row(row[:-2]), row[-2], row[-1])
            for row in cur.fetchall()}


def protected_keys(keys: dict[str, RecordKeys]) -> dict[str, RecordKeys]:
    """Each record's keys as stored (ID-number keys hashed), once per batch: the key rows and
    the candidate lookup both take them."""
    protect = ids.key_protector(process_keyring())
    out = {}
    for ref, record in keys.items():
        protected = {k: protect(k) for k in record.stored | record.lookup}.__getitem__
        out[ref] = RecordKeys(frozenset(map(protected, record.stored)),
                              frozenset(map(protected, record.lookup)))
    return out


def replace_keys(cur: Any, keys: dict[str, frozenset[str]], new: set[str]) -> None:
    """Each record's (protected) blocking keys, instead of those stored for it (a record new
    to the store has none to delete)."""
    old = [ref for ref in keys if ref not in new]
    if old:
        cur.execute("DELETE FROM hub.record_keys WHERE ref = ANY(%s)", (old,))
    copy_rows(cur, "hub.record_keys", ("key", "ref"),
              [(k, ref) for ref, ks in keys.items() for k in sorted(ks)])


def replace_relations(cur: Any, refs: Sequence[str], relatives: Sequence[Relative],
                      new: set[str]) -> None:
    """The relatives these records name now (their ID numbers as lookup hashes)."""
    old = [ref for ref in refs if ref not in new]
    if old:
        cur.execute("DELETE FROM hub.record_relations WHERE ref = ANY(%s)", (old,))
    keyring = process_keyring()
    copy_rows(cur, "hub.record_relations", ("ref", "kind", "relative_hash", "relative_name"),
              [(r.record, r.kind, ids.lookup_hash(keyring, r.id_number), r.name)
               for r in relatives])


def replace_edges(cur: Any, refs: Sequence[str], edges: Iterable[Edge], new: set[str]
                  ) -> set[tuple[str, str, str]]:
    """These records' edges, instead of the ones stored for them. Returns the pairs (a, b,
    rule) that came or went: an edge whose score alone moved is not among them."""
    old = [ref for ref in refs if ref not in new]
    before: set[tuple[str, str, str]] = set()
    if old:
        cur.execute("DELETE FROM hub.match_edges WHERE a = ANY(%s) OR b = ANY(%s)"
                    " RETURNING a, b, rule", (old, old))
        before = set(cur.fetchall())
    unique = {(e.a, e.b): e for e in edges}
    # a concurrent merge may write the same pair (each computed it from what it saw): the later
    # one stands, and a recheck redoes it if that one saw an older version
    upsert_rows(cur, "hub.match_edges", ("a", "b", "rule", "score", "agreed"),
                [(e.a, e.b, e.rule, finite(e.score), list(e.agreed)) for e in unique.values()],
                key=("a", "b"), update=("rule", "score", "agreed"))
    return before ^ {(e.a, e.b, e.rule) for e in unique.values()}


def finite(score: float) -> float:
    return min(score, 1e9)


def edge_from_row(a: str, b: str, rule: str, score: float, agreed: list[str]) -> Edge:
    return Edge(a, b, rule, float("inf") if score >= 1e9 else score, tuple(agreed))


def component(cur: Any, seeds: Iterable[str], limit: int) -> set[str]:
    """Every record reachable from `seeds` over linking edges and steward confirmations, in
    one statement (a recursive walk inside PostgreSQL, not a round trip per level)."""
    cur.execute("""
        WITH RECURSIVE reached (ref) AS (
            SELECT unnest(%(seeds)s::text[])
            UNION
            SELECT other FROM reached r CROSS JOIN LATERAL (
                SELECT b AS other FROM hub.match_edges
                 WHERE a = r.ref AND rule = ANY(%(rules)s)
                UNION ALL
                SELECT a FROM hub.match_edges WHERE b = r.ref AND rule = ANY(%(rules)s)
                UNION ALL
                SELECT b FROM hub.steward_decisions WHERE kind = 'confirm' AND a = r.ref
                UNION ALL
                SELECT a FROM hub.steward_decisions WHERE kind = 'confirm' AND b = r.ref
            ) step
        )
        SELECT ref FROM reached LIMIT %(limit)s""",
                {"seeds": sorted(set(seeds)), "rules": LINKING_RULES, "limit": limit})
    return {ref for (ref,) in cur.fetchall()}


def edges_within(cur: Any, refs: Sequence[str]) -> list[Edge]:
    cur.execute("SELECT a, b, rule, score, agreed FROM hub.match_edges"
                " WHERE a = ANY(%(r)s) AND b = ANY(%(r)s)", {"r": list(refs)})
    edges = [edge_from_row(*row) for row in cur.fetchall()]
    edges += [Edge(a, b, "steward", float("inf"), ("steward",))
              for a, b in _latest_decisions(cur, refs, "confirm")]
    return edges


def _latest_decisions(cur: Any, refs: Sequence[str], kind: str) -> list[tuple[str, str]]:
    """Pairs among `refs` whose latest steward decision is `kind` (a later one overrides)."""
    cur.execute("""
        SELECT a, b FROM (SELECT DISTINCT ON (a, b) a, b, kind FROM hub.steward_decisions
                           WHERE a = ANY(%(r)s) AND b = ANY(%(r)s)
                           ORDER BY a, b, decision_id DESC) latest
         WHERE kind = %(k)s""", {"r": list(refs), "k": kind})
    return cur.fetchall()


def edges_touching(cur: Any, refs: Sequence[str], rules: Sequence[str]) -> list[Edge]:
    cur.execute("SELECT a, b, rule, score, agreed FROM hub.match_edges"
                " WHERE (a = ANY(%(r)s) OR b = ANY(%(r)s)) AND rule = ANY(%(rules)s)",
                {"r": list(refs), "rules": list(rules)})
    return [edge_from_row(*row) for row in cur.fetchall()]


def splits_within(cur: Any, refs: Sequence[str]) -> list[Split]:
    return [Split(a, b) for a, b in _latest_decisions(cur, refs, "split")]


def residents_of(cur: Any, refs: Iterable[str]) -> dict[str, str]:
    cur.execute("SELECT ref, resident_id FROM hub.source_links WHERE ref = ANY(%s)",
                (list(refs),))
    return dict(cur.fetchall())


def members_of(cur: Any, residents: Iterable[str]) -> set[str]:
    cur.execute("SELECT ref FROM hub.source_links WHERE resident_id = ANY(%s)",
                (list(residents),))
    return {ref for (ref,) in cur.fetchall()}


def lock_residents(cur: Any, residents: Iterable[str]) -> None:
    """Wait for every other merge rewriting one of these residents, and keep them until commit:
    transaction advisory locks on the names' hashes, taken in one order by every worker (two
    workers taking overlapping sets never hold one each of two locks the other waits for)."""
    hashes = sorted({zlib.crc32(name.encode()) - 2**31 for name in residents})  # int4 range
    if hashes:
        cur.execute("SELECT pg_advisory_xact_lock(%s, h) FROM unnest(%s::int[]) AS h",
                    (RESIDENT_LOCKS, hashes))
