"""`sanwang resident ID [--as-of DATE]`: one resident's golden record, now or on a past day.

ID is a resident id or an ID number (found by its keyed hash); the number is printed masked.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from deploy import postgres
from deploy.id_keys import load_keyring
from deploy.settings import HubSettings
from streams import id_protection as ids
from streams.relations import relations_of


def add_resident_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "resident", help="a resident's golden record, its records and why they belong",
        description="Print the resident's current golden values (each with its source and "
        "authority), every record linked to it with the rule, score and agreeing fields, its "
        "relatives (parents, children, spouses, with the record naming them) and its open "
        "conflicts. --as-of gives the values valid on that day instead.")
    p.add_argument("resident_id", help="resident id (R...) or 18-character ID number")
    p.add_argument("--as-of", type=datetime.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="values as of this day (by when facts happened)")
    p.set_defaults(run=run_resident)


def run_resident(args: argparse.Namespace, settings: HubSettings) -> int:
    conn = postgres.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            keyring = load_keyring(settings)
            cur.execute("SELECT resident_id, id_number_masked FROM hub.residents"
                        " WHERE resident_id = %s OR id_number_hash = %s",
                        (args.resident_id, ids.lookup_hash(keyring, args.resident_id.upper())))
            row = cur.fetchone()
            if row is None:
                print(f"sanwang resident: no resident {args.resident_id}", file=sys.stderr)
                return 2
            resident, masked = row
            if args.as_of:
                cur.execute("SELECT attribute, value, valid_from, source, record_ref"
                            " FROM hub.resident_as_of(%s, %s)", (resident, args.as_of))
                values = {a: {"value": ids.mask(ids.open_document(keyring, v)) if a == "id_number"
                              else ids.open_document(keyring, v),
                              "valid_from": f, "source": s, "record": r}
                          for a, v, f, s, r in cur.fetchall()}
            else:
                cur.execute("SELECT attribute, value, valid_from, source, record_ref, authority"
                            " FROM hub.golden_values WHERE resident_id = %s ORDER BY attribute",
                            (resident,))
                values = {a: {"value": ids.open_document(keyring, v), "valid_from": f,
                              "source": s, "record": r, "authority": authority}
                          for a, v, f, s, r, authority in cur.fetchall()}
                values["id_number_masked"] = {"value": masked}
            cur.execute("SELECT ref, rule, score, matched_with, agreed FROM hub.source_links"
                        " WHERE resident_id = %s ORDER BY ref", (resident,))
            records = [{"record": r, "rule": rule, "score": score, "matched_with": matched,
                        "agreed": agreed} for r, rule, score, matched, agreed in cur.fetchall()]
            cur.execute("SELECT conflict_id, kind, attribute, details FROM hub.conflicts"
                        " WHERE resident_id = %s AND status = 'open'", (resident,))
            conflicts = [dict(zip(("conflict_id", "kind", "attribute", "details"), c,
                                  strict=True)) for c in cur.fetchall()]
            relations = relations_of(cur, resident)
    finally:
        conn.close()
    print(json.dumps({"resident_id": resident,
                      "as_of": args.as_of.isoformat() if args.as_of else None,
                      "values": values, "records": records, "relations": relations,
                      "conflicts": conflicts},
                     ensure_ascii=False, indent=2))
    return 0
