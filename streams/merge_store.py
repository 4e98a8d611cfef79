"""The merge's reads and writes in PostgreSQL; every function runs in the caller's transaction."""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg2.extras import execute_values

from deploy.id_keys import process_keyring
from streams import id_protection as ids
from streams.clustering import Split
from streams.facts import Observation, Relative
from streams.features import RecordFeatures
from streams.findings import Finding
from streams.json_text import json_text
from streams.matching import Edge, RecordKeys
from streams.survivorship import GoldenValue

LINKING_RULES = ["department_key", "id_number", "probabilistic"]
GOLDEN_COLUMNS = ("name", "sex", "birth_date", "ethnicity", "hukou_address", "residence_address",
                  "phone", "life_status")
RESIDENT_LOCKS = 7304  # advisory lock namespace (the two-int form)
PAGE = 10_000  # rows per INSERT: a batch's rows go in one or few statements, not one per 100


def copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
              ) -> None:
    """Append rows with COPY, for tables the merge only appends to: the server parses no SQL
    per row, as it must for INSERT ... VALUES (bench/README.md, "PostgreSQL's time")."""
    text = "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    if text:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))


def _copy_field(value: Any) -> str:
    """A value in COPY's text format (chained `replace`s: far cheaper than `translate`)."""
    if value is None:
        return "\\N"
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def split_ref(ref: str) -> tuple[str, str]:
    source, record_id = ref.split(":", 1)
    return source, record_id


def record_rows(records: Sequence[tuple[RecordFeatures, str, list[Observation]]]
                ) -> list[tuple[str, str, str, str, str, str]]:
    """hub.source_records rows for (features, event id, observations): pure, so the caller can
    build them before it takes the merge lock. ID numbers in them are sealed."""
    keyring = process_keyring()
    return [(*split_ref(f.ref), event_id, f.version,
             json_text(ids.seal_features(keyring, f.to_json())),
             json_text(ids.seal_document(keyring, [o.__dict__ for o in obs])))
            for f, event_id, obs in records]


def upsert_records(cur: Any, rows: Sequence[tuple[str, str, str, str, str, str]]) -> list[str]:
    """Store each record's version unless a later one is stored, noting this transaction as its
    writer (for rechecks); refs whose version changed."""
    if not rows:
        return []
    changed = execute_values(cur, """
        INSERT INTO hub.source_records (source, record_id, event_id, version, features,
                                        observations, writer)
        VALUES %s
        ON CONFLICT (source, record_id) DO UPDATE SET event_id = EXCLUDED.event_id,
            version = EXCLUDED.version, features = EXCLUDED.features,
            observations = EXCLUDED.observations, writer = EXCLUDED.writer
        WHERE hub.source_records.version < EXCLUDED.version
        RETURNING ref""", rows, template="(%s, %s, %s, %s, %s, %s, pg_current_xact_id())",
                             fetch=True, page_size=PAGE)
    return sorted(ref for (ref,) in changed)


def load_features(cur: Any, refs: Iterable[str]) -> dict[str, RecordFeatures]:
    """Stored features, read as text and parsed by orjson: they hold only strings and booleans,
    which it reads exactly as json does, several times faster (observations hold payload
    numbers, whose integers beyond 64 bits orjson would turn into floats)."""
    cur.execute("SELECT features::text FROM hub.source_records WHERE ref = ANY(%s)",
                (list(refs),))
    keyring = process_keyring()
    return {f.ref: f for f in (RecordFeatures.from_json(ids.open_features(keyring,
                                                                          orjson.loads(row[0])))
                               for row in cur.fetchall())}


def load_observations(cur: Any, refs: Iterable[str]) -> dict[str, list[Observation]]:
    cur.execute("SELECT ref, observations FROM hub.source_records WHERE ref = ANY(%s)",
                (list(refs),))
    keyring = process_keyring()
    return {ref: [Observation(**o) for o in ids.open_document(keyring, obs)]
            for ref, obs in cur.fetchall()}


def protected_keys(keys: dict[str, RecordKeys]) -> dict[str, RecordKeys]:
    """Each record's keys as stored (ID-number keys hashed), once per batch: the locks, the key
    rows and the candidate lookup all take them."""
    keyring = process_keyring()
    out = {}
    for ref, record in keys.items():
        protected = {k: ids.protect_key(keyring, k) for k in record.stored | record.lookup}
        out[ref] = RecordKeys(*(frozenset(protected[k] for k in part)
                                for part in (record.stored, record.lookup)))
    return out


def replace_relations(cur: Any, refs: Sequence[str], relatives: Sequence[Relative]) -> None:
    """The relatives these records name now (their ID numbers as lookup hashes)."""
    cur.execute("DELETE FROM hub.record_relations WHERE ref = ANY(%s)", (list(refs),))
    keyring = process_keyring()
    copy_rows(cur, "hub.record_relations", ("ref", "kind", "relative_hash", "relative_name"),
              [(r.record, r.kind, ids.lookup_hash(keyring, r.id_number), r.name)
               for r in relatives])


def lock_residents(cur: Any, residents: Iterable[str]) -> None:
    """Wait for every other merge rewriting one of these residents, and keep them until commit:
    transaction advisory locks on the names' hashes, taken in one order by every worker (two
    workers taking overlapping sets never hold one each of two locks the other waits for)."""
    hashes = sorted({zlib.crc32(name.encode()) - 2**31 for name in residents})  # int4 range
    cur.execute("SELECT pg_advisory_xact_lock(%s, h) FROM unnest(%s::int[]) AS h",
                (RESIDENT_LOCKS, hashes))


def note_recheck(cur: Any, refs: Sequence[str]) -> None:
    """Record, before the candidate lookups, that this transaction computes these records'
    edges and what it can see: `claim_recheck` hands it to a recheck once committed."""
    cur.execute("INSERT INTO hub.merge_rechecks (writer, snapshot, refs)"
                " VALUES (pg_current_xact_id(), pg_current_snapshot(), %s)", (list(refs),))


@dataclass(frozen=True)
class Recheck:
    """A committed merge to look at again: its transaction, its lookups' snapshot, its refs."""

    recheck_id: int
    writer: str
    snapshot: str
    refs: list[str]


def claim_recheck(cur: Any) -> Recheck | None:
    """The oldest recheck no other transaction has claimed, deleted at this one's commit."""
    cur.execute("DELETE FROM hub.merge_rechecks WHERE recheck_id = (SELECT recheck_id FROM"
                " hub.merge_rechecks ORDER BY recheck_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING recheck_id, writer::text, snapshot::text, refs")
    row = cur.fetchone()
    return None if row is None else Recheck(*row)


def unseen_records(cur: Any, recheck: Recheck) -> set[str]:
    """Records written by a transaction other than the recheck's own that its snapshot could not
    see (concurrent merges, and later ones)."""
    cur.execute("""
        SELECT ref FROM hub.source_records
         WHERE writer >= pg_snapshot_xmin(%(snapshot)s::pg_snapshot)
           AND writer <> %(writer)s::xid8
           AND NOT pg_visible_in_snapshot(writer, %(snapshot)s::pg_snapshot)""",
                {"writer": recheck.writer, "snapshot": recheck.snapshot})
    return {ref for (ref,) in cur.fetchall()}


def stored_keys(cur: Any, refs: Iterable[str]) -> set[str]:
    """The (protected) keys these records are stored under."""
    cur.execute("SELECT key FROM hub.record_keys WHERE ref = ANY(%s)", (list(refs),))
    return {key for (key,) in cur.fetchall()}


def linked_to(cur: Any, refs: Sequence[str], others: Iterable[str]) -> set[str]:
    """Those of `refs` with an edge to one of `others`."""
    cur.execute("""
        SELECT a, b FROM hub.match_edges
         WHERE (a = ANY(%(r)s) AND b = ANY(%(o)s)) OR (b = ANY(%(r)s) AND a = ANY(%(o)s))""",
                {"r": list(refs), "o": list(others)})
    return {ref for pair in cur.fetchall() for ref in pair} & set(refs)


def replace_keys(cur: Any, keys: dict[str, frozenset[str]]) -> None:
    """Each record's (protected) blocking keys, instead of the ones stored for it."""
    cur.execute("DELETE FROM hub.record_keys WHERE ref = ANY(%s)", (list(keys),))
    copy_rows(cur, "hub.record_keys", ("key", "ref"),
              [(k, ref) for ref, ks in keys.items() for k in sorted(ks)])


def refs_sharing_keys(cur: Any, keys: Iterable[str], max_block: int) -> set[str]:
    """Records under any of the (protected) keys, leaving out keys too common to mean anything."""
    cur.execute("""
        SELECT ref FROM (SELECT ref, count(*) OVER (PARTITION BY key) AS block
                           FROM hub.record_keys WHERE key = ANY(%s)) found
         WHERE block <= %s""", (sorted(set(keys)), max_block))  # one pass over the keys' rows
    return {ref for (ref,) in cur.fetchall()}


def replace_edges(cur: Any, refs: Sequence[str], edges: Iterable[Edge]) -> None:
    cur.execute("DELETE FROM hub.match_edges WHERE a = ANY(%s) OR b = ANY(%s)",
                (list(refs), list(refs)))
    unique = {(e.a, e.b): e for e in edges}
    # a concurrent merge may write the same pair (each computed it from what it saw): the later
    # one stands, and a recheck redoes it if that one saw an older version
    execute_values(cur, "INSERT INTO hub.match_edges (a, b, rule, score, agreed) VALUES %s"
                        " ON CONFLICT (a, b) DO UPDATE SET rule = EXCLUDED.rule,"
                        " score = EXCLUDED.score, agreed = EXCLUDED.agreed",
                   [(e.a, e.b, e.rule, _finite(e.score), list(e.agreed))
                    for e in unique.values()], page_size=PAGE)


def _finite(score: float) -> float:
    return min(score, 1e9)


def edge_from_row(a: str, b: str, rule: str, score: float, agreed: list[str]) -> Edge:
    return Edge(a, b, rule, float("inf") if score >= 1e9 else score, tuple(agreed))


def component(cur: Any, seeds: Iterable[str], limit: int) -> set[str]:
    """Every record reachable from `seeds` over linking edges and steward confirmations."""
    reached, frontier = set(seeds), set(seeds)
    while frontier and len(reached) < limit:
        cur.execute("""
            SELECT a, b FROM hub.match_edges
             WHERE (a = ANY(%(f)s) OR b = ANY(%(f)s)) AND rule = ANY(%(rules)s)
            UNION ALL
            SELECT a, b FROM hub.steward_decisions
             WHERE kind = 'confirm' AND (a = ANY(%(f)s) OR b = ANY(%(f)s))""",
                    {"f": sorted(frontier), "rules": LINKING_RULES})
        found = {ref for pair in cur.fetchall() for ref in pair}
        frontier = found - reached
        reached |= found
    return reached


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


def write_links(cur: Any, links: Sequence[tuple[str, str, str, float | None, dict[str, Any]]]
                ) -> None:
    """(ref, resident, rule, score, evidence) for each record of the recomputed component."""
    execute_values(cur, """
        INSERT INTO hub.source_links (source, record_id, resident_id, rule, score, evidence)
        VALUES %s ON CONFLICT (source, record_id) DO UPDATE SET resident_id =
            EXCLUDED.resident_id, rule = EXCLUDED.rule, score = EXCLUDED.score,
            evidence = EXCLUDED.evidence""",
                   [(*split_ref(ref), resident, rule, score, json_text(evidence))
                    for ref, resident, rule, score, evidence in links], page_size=PAGE)


def delete_residents(cur: Any, residents: Sequence[str]) -> None:
    for table in ("residents", "resident_history", "resident_findings"):
        cur.execute(f"DELETE FROM hub.{table} WHERE resident_id = ANY(%s)", (list(residents),))
    cur.execute("DELETE FROM hub.conflicts WHERE resident_id = ANY(%s) AND status = 'open'",
                (list(residents),))


@dataclass(frozen=True)
class ResidentRecord:
    """Everything stored about one resident: golden record, history, conflicts, findings."""

    resident: str
    golden: dict[str, GoldenValue]
    grid: str | None
    address_key: str | None
    records: int
    history: Sequence[tuple[Observation, str | None]]
    conflicts: Sequence[tuple[str, str | None, dict[str, Any]]]
    findings: Sequence[Finding]


def rewrite_residents(cur: Any, residents: Sequence[ResidentRecord], gone: Sequence[str]
                      ) -> None:
    """Replace these residents' rows and drop the `gone` ones: a few statements for the whole
    batch, whatever its size (a conflict a steward resolved stays resolved when found again)."""
    delete_residents(cur, [r.resident for r in residents] + list(gone))
    if not residents:
        return
    keyring = process_keyring()

    def value(golden: dict[str, GoldenValue], attribute: str) -> Any:
        found = golden.get(attribute)
        return None if found is None else found.value

    # an INSERT, not COPY: hub.residents has row-level security (schemas/sql/007_api_access.sql)
    execute_values(cur, """
        INSERT INTO hub.residents (resident_id, name, sex, birth_date, ethnicity, hukou_address,
            residence_address, phone, life_status, grid_code, address_key, attributes,
            record_count, id_number_sealed, id_number_hash, id_number_masked) VALUES %s""",
                   [(r.resident, *(value(r.golden, a) for a in GOLDEN_COLUMNS), r.grid,
                     r.address_key, json_text(ids.seal_document(keyring, {
                         a: g.__dict__ for a, g in r.golden.items() if a != "id_number"})),
                     r.records, *ids.resident_columns(keyring, value(r.golden, "id_number")))
                    for r in residents], page_size=PAGE)
    copy_rows(cur, "hub.resident_history", ("resident_id", "attribute", "value", "valid_from",
                                            "valid_to", "source", "record_ref"),
              [(r.resident, o.attribute, json_text(ids.seal_document(keyring, o.value)),
                o.valid_from, until, o.source, o.record)
               for r in residents for o, until in r.history])
    execute_values(cur, """
        INSERT INTO hub.conflicts (resident_id, kind, attribute, details, fingerprint)
        SELECT v.resident_id, v.kind, v.attribute, v.details::jsonb, v.fingerprint
          FROM (VALUES %s) AS v (resident_id, kind, attribute, details, fingerprint)
         WHERE NOT EXISTS (SELECT 1 FROM hub.conflicts c WHERE c.status = 'resolved'
                           AND c.fingerprint = v.fingerprint)""",
                   [(r.resident, kind, attribute,
                     json_text(ids.seal_document(keyring, details)),
                     hashlib.sha256(f"{kind}|{attribute}|{text}".encode()).hexdigest()[:32])
                    for r in residents for kind, attribute, details in r.conflicts
                    for text in [json.dumps(details, ensure_ascii=False, sort_keys=True)]],
                   page_size=PAGE)
    copy_rows(cur, "hub.resident_findings", ("resident_id", "kind", "since", "evidence"),
              [(r.resident, f.kind, f.since, json_text(
                  {"records": list(f.evidence), "explanation": f.explanation}))
               for r in residents for f in r.findings])


def replace_review_items(cur: Any, refs: Sequence[str], items: Iterable[Edge]) -> None:
    """Open possible matches among `refs`; a steward's answered item keeps its answer."""
    cur.execute("DELETE FROM hub.review_queue WHERE status = 'open'"
                " AND (a = ANY(%(r)s) OR b = ANY(%(r)s))", {"r": list(refs)})
    execute_values(cur, "INSERT INTO hub.review_queue (a, b, score, agreed) VALUES %s"
                        " ON CONFLICT (a, b) DO NOTHING",
                   [(e.a, e.b, e.score, list(e.agreed)) for e in items], page_size=PAGE)


def add_changes(cur: Any, changes: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    copy_rows(cur, "hub.change_outbox", ("resident_id", "change", "payload"),
              [(resident, change, json_text(payload)) for resident, change, payload in changes])


def findings_of_residents(cur: Any, residents: Sequence[str]) -> dict[str, set[str]]:
    """The kinds of finding each resident has now (to tell which ones are new)."""
    cur.execute("SELECT resident_id, kind FROM hub.resident_findings WHERE resident_id = ANY(%s)",
                (list(residents),))
    found: dict[str, set[str]] = {}
    for resident, kind in cur.fetchall():
        found.setdefault(resident, set()).add(kind)
    return found
