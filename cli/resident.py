"""`sanwang resident ID [--as-of DATE]`: one resident's golden record, now or on a past day."""

from __future__ import annotations

import argparse
import datetime
import json
import sys

import psycopg2

from deploy import postgres
from deploy.settings import HubSettings


def add_resident_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "resident", help="a resident's golden record, its records and why they belong",
        description="Print the resident's current golden values (each with its source and "
        "authority), every record linked to it with the rule, score and agreeing fields, and "
        "its open conflicts. --as-of gives the values valid on that day instead.")
    p.add_argument("resident_id")
    p.add_argument("--as-of", type=datetime.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="values as of this day (by when facts happened)")
    p.set_defaults(run=run_resident)


def run_resident(args: argparse.Namespace, settings: HubSettings) -> int:
    conn = psycopg2.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT attributes FROM hub.residents WHERE resident_id = %s",
                        (args.resident_id,))
            row = cur.fetchone()
            if row is None:
                print(f"sanwang resident: no resident {args.resident_id}", file=sys.stderr)
                return 2
            if args.as_of:
                cur.execute("SELECT attribute, value, valid_from, source, record_ref"
                            " FROM hub.resident_as_of(%s, %s)", (args.resident_id, args.as_of))
                values = {a: {"value": v, "valid_from": f, "source": s, "record": r}
                          for a, v, f, s, r in cur.fetchall()}
            else:
                values = row[0]
            cur.execute("SELECT ref, rule, score, evidence FROM hub.source_links"
                        " WHERE resident_id = %s ORDER BY ref", (args.resident_id,))
            records = [{"record": r, "rule": rule, "score": score, "evidence": evidence}
                       for r, rule, score, evidence in cur.fetchall()]
            cur.execute("SELECT conflict_id, kind, attribute, details FROM hub.conflicts"
                        " WHERE resident_id = %s AND status = 'open'", (args.resident_id,))
            conflicts = [dict(zip(("conflict_id", "kind", "attribute", "details"), c,
                                  strict=True)) for c in cur.fetchall()]
    finally:
        conn.close()
    print(json.dumps({"resident_id": args.resident_id,
                      "as_of": args.as_of.isoformat() if args.as_of else None,
                      "values": values, "records": records, "conflicts": conflicts},
                     ensure_ascii=False, indent=2))
    return 0
