"""`sanwang steward ...`: conflicts, the review queue, and a steward's decisions."""

from __future__ import annotations

import argparse
import json

from deploy import postgres
from deploy.settings import HubSettings


def add_steward_parser(commands: argparse._SubParsersAction) -> None:
    steward = commands.add_parser(
        "steward", help="conflicts, review queue, confirm / reject / split",
        description="Work the data stewards' queues. Records are named source:record_id "
        "(DEPARTMENT:RECORD_ID, as `sanwang resident` lists them). Every decision names its "
        "steward and is kept in "
        "hub.steward_decisions; the merge honours it from then on (a split is never re-merged).")
    actions = steward.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("conflicts", "open conflicts, oldest first"),
                       ("review", "open possible matches, strongest first")):
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument("--limit", type=int, default=50)
        p.add_argument("--offset", type=int, default=0)
    for name, text in (("confirm", "the two records are one person (links them)"),
                       ("reject", "the two records are different people (never linked)")):
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument("a", help="a record, source:record_id")
        p.add_argument("b", help="the other record")
    p = actions.add_parser("split", help="take records out of a resident",
                           description="The listed records become a resident of their own; "
                           "they are never merged back automatically.")
    p.add_argument("resident", help="resident id")
    p.add_argument("records", nargs="+", help="records to take out, source:record_id")
    p = actions.add_parser("resolve", help="close a conflict",
                           description="Mark a conflict resolved; found again, it stays closed.")
    p.add_argument("conflict_id", type=int)
    for parser in actions.choices.values():
        if parser.prog.split()[-1] not in ("conflicts", "review"):
            parser.add_argument("--steward", required=True, help="who decides (recorded)")
            parser.add_argument("--note", help="why (recorded)")
        parser.set_defaults(run=run_steward)


def run_steward(args: argparse.Namespace, settings: HubSettings) -> int:
    from streams import steward

    conn = postgres.connect(postgres.dsn(settings))
    try:
        if args.action in ("conflicts", "review"):
            listing = steward.open_conflicts if args.action == "conflicts" else \
                steward.open_reviews
            for row in listing(conn, args.limit, args.offset):
                print(json.dumps(row, ensure_ascii=False, default=str))
            return 0
        if args.action == "confirm":  # a decision refused raises StewardError: exit 2
            summary = steward.confirm(conn, args.a, args.b, args.steward, args.note)
        elif args.action == "reject":
            summary = steward.reject(conn, args.a, args.b, args.steward, args.note)
        elif args.action == "split":
            summary = steward.split(conn, args.resident, args.records, args.steward, args.note)
        else:
            steward.resolve_conflict(conn, args.conflict_id, args.steward, args.note)
            print(f"conflict {args.conflict_id} resolved")
            return 0
        print(f"{args.action}: {dict(summary.changes) or 'no resident changed'}")
        return 0
    finally:
        conn.close()
