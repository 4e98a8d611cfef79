"""The resident side of the store: read what is stored about residents, and write only what a
merge changed (every function runs in the caller's transaction).

Golden values are one row per attribute, rewritten only where the value moved; a resident's row
only where its columns did; conflicts, findings and links likewise. Facts are never written
here: they are the records' (streams/record_store.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2.extras import execute_values

from deploy.id_keys import process_keyring
from streams import id_protection as ids
from streams.features import RecordFeatures
from streams.json_text import json_text, json_value
from streams.matching import Edge
from streams.record_store import FEATURE_COLUMNS, features_of_row, finite
from streams.resident_state import ResidentState
from streams.store_io import PAGE, copy_rows, split_ref, upsert_rows
from streams.survivorship import GoldenValue, observers, owners

COLUMNS = ("name", "sex", "birth_date", "ethnicity", "hukou_address", "residence_address",
           "phone", "life_status")  # golden values kept as columns of hub.residents too
Link = tuple[str, str | None, float | None, str | None, tuple[str, ...]]  # resident, rule, ...


@dataclass
class Stored:
    """What the store holds now about some residents (opened), to write only the difference."""

    golden: dict[str, dict[str, GoldenValue]] = field(default_factory=dict)
    columns: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    conflicts: dict[str, set[str]] = field(default_factory=dict)  # open ones' fingerprints
    findings: dict[str, dict[str, tuple[str, list[str]]]] = field(default_factory=dict)


def store_owners(cur: Any) -> None:
    """The declarations' owner of each attribute, and the observer sources, which the history
    view follows."""
    declared = owners()
    cur.execute("DELETE FROM hub.attribute_owners WHERE NOT attribute = ANY(%s)",
                (list(declared),))
    execute_values(cur, "INSERT INTO hub.attribute_owners (attribute, owner) VALUES %s"
                        " ON CONFLICT (attribute) DO UPDATE SET owner = EXCLUDED.owner",
                   sorted(declared.items()))
    cur.execute("DELETE FROM hub.observer_sources WHERE NOT source = ANY(%s)",
                (sorted(observers()),))
    if observers():
        execute_values(cur, "INSERT INTO hub.observer_sources (source) VALUES %s"
                            " ON CONFLICT DO NOTHING", [(s,) for s in sorted(observers())])


def load_members(cur: Any, residents: Iterable[str]
                 ) -> tuple[dict[str, RecordFeatures], dict[str, str], dict[str, Link]]:
    """The residents' records: features, resident of each, and each one's stored link."""
    cur.execute(f"""
        SELECT {', '.join('s.' + c for c in FEATURE_COLUMNS)}, l.resident_id, l.rule, l.score,
               l.matched_with, l.agreed
          FROM hub.source_links l JOIN hub.source_records s ON s.ref = l.ref
         WHERE l.resident_id = ANY(%s)""", (sorted(set(residents)),))
    features, resident_of, links = {}, {}, {}
    width = len(FEATURE_COLUMNS)
    for row in cur.fetchall():
        f = features_of_row(row[:width])
        resident, rule, score, matched, agreed = row[width:]
        features[f.ref], resident_of[f.ref] = f, resident
        links[f.ref] = (resident, rule, score, matched, tuple(agreed))
    return features, resident_of, links


def load_links(cur: Any, refs: Iterable[str]) -> dict[str, Link]:
    cur.execute("SELECT ref, resident_id, rule, score, matched_with, agreed FROM hub.source_links"
                " WHERE ref = ANY(%s)", (list(refs),))
    return {ref: (resident, rule, score, matched, tuple(agreed))
            for ref, resident, rule, score, matched, agreed in cur.fetchall()}


def load_stored(cur: Any, residents: Iterable[str]) -> Stored:
    keyring = process_keyring()
    wanted = sorted(set(residents))
    stored = Stored()
    # read as text and parsed by json_value (orjson), several times faster than psycopg2's
    # json.loads
    cur.execute("SELECT resident_id, attribute, value::text, valid_from, source, record_ref,"
                " authority FROM hub.golden_values WHERE resident_id = ANY(%s)", (wanted,))
    for resident, attribute, value, *rest in cur.fetchall():
        stored.golden.setdefault(resident, {})[attribute] = GoldenValue(
            attribute, ids.open_document(keyring, json_value(value)), *rest)
    cur.execute(f"SELECT resident_id, {', '.join(COLUMNS)}, grid_code, address_key,"
                " record_count, id_number_sealed FROM hub.residents WHERE resident_id = ANY(%s)",
                (wanted,))
    stored.columns = {row[0]: tuple(row[1:]) for row in cur.fetchall()}
    cur.execute("SELECT resident_id, fingerprint FROM hub.conflicts"
                " WHERE resident_id = ANY(%s) AND status = 'open'", (wanted,))
    for resident, fingerprint in cur.fetchall():
        stored.conflicts.setdefault(resident, set()).add(fingerprint)
    cur.execute("SELECT resident_id, kind, since, evidence -> 'records' FROM"
                " hub.resident_findings WHERE resident_id = ANY(%s)", (wanted,))
    for resident, kind, since, records in cur.fetchall():
        stored.findings.setdefault(resident, {})[kind] = (since, records)
    return stored


def fingerprint(kind: str, attribute: str | None, details: dict[str, Any]) -> str:
    """The same conflict found again has the same one (a steward's resolution sticks)."""
    text = json.dumps(details, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(f"{kind}|{attribute}|{text}".encode()).hexdigest()[:32]


def _columns(state: ResidentState) -> tuple[Any, ...]:
    keyring = process_keyring()
    values = [None if state.golden.get(a) is None else state.golden[a].value for a in COLUMNS]
    number = state.golden.get("id_number")
    sealed = number and ids.seal(keyring, number.value)
    return (*values, state.grid, state.address_key, len(state.members), sealed)


def write_states(cur: Any, states: Sequence[ResidentState], stored: Stored,
                 gone: Sequence[str]) -> None:
    """Write what differs between `states` and `stored`, and remove the `gone` residents."""
    keyring = process_keyring()
    _remove(cur, gone)
    new_rows, changed_rows = [], []
    golden_rows, golden_gone = [], []
    conflict_rows, conflicts_gone = [], []
    finding_rows, findings_gone = [], []
    for state in states:
        r = state.resident
        columns = _columns(state)
        number = state.golden.get("id_number")
        row = (r, *columns, *ids.resident_columns(keyring, number and number.value)[1:])
        if r not in stored.columns:
            new_rows.append(row)
        elif stored.columns[r] != columns:
            changed_rows.append(row)
        before = stored.golden.get(r, {})
        golden_rows += [(r, a, json_text(ids.seal_document(keyring, g.value)), g.valid_from,
                         g.source, g.record, g.authority)
                        for a, g in state.golden.items() if a != "id_number"
                        and before.get(a) != g]
        golden_gone += [(r, a) for a in before if a not in state.golden]
        wanted = {fingerprint(*c): c for c in state.conflicts}
        conflict_rows += [(r, kind, attribute, json_text(ids.seal_document(keyring, details)),
                           f) for f, (kind, attribute, details) in wanted.items()
                          if f not in stored.conflicts.get(r, set())]
        conflicts_gone += [(r, f) for f in stored.conflicts.get(r, set()) if f not in wanted]
        had = stored.findings.get(r, {})
        finding_rows += [(r, f.kind, f.since, json_text(
            {"records": list(f.evidence), "explanation": f.explanation}))
            for f in state.findings if had.get(f.kind) != (f.since, list(f.evidence))]
        findings_gone += [(r, k) for k in had if k not in {f.kind for f in state.findings}]
    _write_residents(cur, new_rows, changed_rows)
    _delete_pairs(cur, "golden_values", "attribute", golden_gone)
    upsert_rows(cur, "hub.golden_values", ("resident_id", "attribute", "value", "valid_from",
                                           "source", "record_ref", "authority"), golden_rows,
                key=("resident_id", "attribute"),
                update=("value", "valid_from", "source", "record_ref", "authority"))
    if conflicts_gone:
        execute_values(cur, "DELETE FROM hub.conflicts c USING (VALUES %s) AS v (r, f)"
                            " WHERE c.resident_id = v.r AND c.fingerprint = v.f"
                            " AND c.status = 'open'", conflicts_gone, page_size=PAGE)
    if conflict_rows:
        execute_values(cur, """
            INSERT INTO hub.conflicts (resident_id, kind, attribute, details, fingerprint)
            SELECT v.resident_id, v.kind, v.attribute, v.details::jsonb, v.fingerprint
              FROM (VALUES %s) AS v (resident_id, kind, attribute, details, fingerprint)
             WHERE NOT EXISTS (SELECT 1 FROM hub.conflicts c WHERE c.status = 'resolved'
                               AND c.fingerprint = v.fingerprint)""", conflict_rows,
                       page_size=PAGE)
    _delete_pairs(cur, "resident_findings", "kind", findings_gone)
    upsert_rows(cur, "hub.resident_findings", ("resident_id", "kind", "since", "evidence"),
                finding_rows, key=("resident_id", "kind"), update=("since", "evidence"))


def _write_residents(cur: Any, new: list[tuple[Any, ...]], changed: list[tuple[Any, ...]]
                     ) -> None:
    names = ("resident_id", *COLUMNS, "grid_code", "address_key", "record_count",
             "id_number_sealed", "id_number_hash", "id_number_masked")
    # staged, not COPY straight in: hub.residents has row-level security (007_api_access.sql)
    upsert_rows(cur, "hub.residents", names, new, key=("resident_id",))
    if changed:
        sets = ", ".join(f"{n} = v.{n}" for n in names[1:])
        execute_values(cur, f"UPDATE hub.residents r SET {sets}, updated_at = now()"
                            f" FROM (VALUES %s) AS v ({', '.join(names)})"
                            " WHERE r.resident_id = v.resident_id", changed, page_size=PAGE)


def _delete_pairs(cur: Any, table: str, column: str, pairs: Sequence[tuple[str, str]]) -> None:
    if pairs:
        execute_values(cur, f"DELETE FROM hub.{table} t USING (VALUES %s) AS v (r, k)"
                            f" WHERE t.resident_id = v.r AND t.{column} = v.k", pairs,
                       page_size=PAGE)


def _remove(cur: Any, residents: Sequence[str]) -> None:
    if not residents:
        return
    for table in ("residents", "golden_values", "resident_findings"):
        cur.execute(f"DELETE FROM hub.{table} WHERE resident_id = ANY(%s)", (list(residents),))
    cur.execute("DELETE FROM hub.conflicts WHERE resident_id = ANY(%s) AND status = 'open'",
                (list(residents),))


def write_links(cur: Any, links: dict[str, Link], stored: dict[str, Link]) -> None:
    """Each record's resident and why, where it differs from what is stored."""
    rows = [(*split_ref(ref), resident, rule, score, matched, list(agreed))
            for ref, (resident, rule, score, matched, agreed) in links.items()
            if stored.get(ref) != (resident, rule, score, matched, agreed)]
    upsert_rows(cur, "hub.source_links", ("source", "record_id", "resident_id", "rule", "score",
                                          "matched_with", "agreed"), rows,
                key=("source", "record_id"),
                update=("resident_id", "rule", "score", "matched_with", "agreed"))


def link_of(ref: str, resident: str, edge: Edge | None) -> Link:
    """Why `ref` is in `resident`: its strongest edge inside it (None: alone, "new")."""
    if edge is None:
        return (resident, "new", None, None, ())
    return (resident, edge.rule, finite(edge.score), edge.b if edge.a == ref else edge.a,
            edge.agreed)


def replace_review_items(cur: Any, refs: Sequence[str], items: Iterable[Edge]) -> None:
    """Open possible matches among `refs`; a steward's answered item keeps its answer."""
    # hashed lists: the prepared statement's generic plan reads the small queue through (b has
    # no index), and testing each row against an array of a batch's refs took 17 ms at 1,500
    cur.execute("DELETE FROM hub.review_queue WHERE status = 'open'"
                " AND (a IN (SELECT unnest(%(r)s::text[])) OR b IN (SELECT unnest(%(r)s::text[])))",
                {"r": list(refs)})
    upsert_rows(cur, "hub.review_queue", ("a", "b", "score", "agreed"),
                [(e.a, e.b, e.score, list(e.agreed)) for e in items], key=("a", "b"))


def add_changes(cur: Any, changes: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    copy_rows(cur, "hub.change_outbox", ("resident_id", "change", "payload"),
              [(resident, change, json_text(payload)) for resident, change, payload in changes])
