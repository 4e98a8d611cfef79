"""`sanwang indicators refresh` and `sanwang warnings`: the monthly indicators of every grid unit
recomputed from the store, and the early warnings they raise (docs/indicators.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any

from deploy import postgres
from deploy.errors import InputError
from deploy.settings import HubSettings
from streams.grid_units import LEVELS

if TYPE_CHECKING:
    from streams.early_warnings import EarlyWarning


def _month(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month YYYY-MM")
    return text


def add_indicators_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("indicators", help="monthly indicators of every grid unit",
                            description="Monthly indicators (population, births, deaths, moves, "
                            "低保, elderly, pensions, findings, conflicts...) of every unit of "
                            "the four grid levels, by valid time, in hub.indicators; analysts "
                            "read hub.analyst_indicators (small counts withheld).")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = sub.add_parser("refresh", help="recompute hub.indicators from the store",
                             description="Recompute every indicator of the last "
                             "$SANWANG_INDICATOR_MONTHS months through --through (default: "
                             "this month) and replace hub.indicators in one transaction. Each "
                             "processor does this itself every "
                             "$SANWANG_INDICATOR_REFRESH_SECONDS when the store changed (a "
                             "late record moves its fact's month at the next refresh); run it "
                             "to have them at once, or with another --through.")
    refresh.add_argument("--through", type=_month, metavar="YYYY-MM",
                         help="the last month (default: the current one, China time)")
    refresh.set_defaults(run=run_refresh)

    p = commands.add_parser("warnings", help="early warnings from the indicators",
                            description="Incipient (苗头性), trending (倾向性) and widespread "
                            "(普遍性) warnings of a month, from the last `sanwang indicators "
                            "refresh`: by kind, then level, strongest first, each explained. "
                            "Counts of 1..$SANWANG_SMALL_CELL_K below the township level "
                            "are withheld.")
    p.add_argument("--month", type=_month, metavar="YYYY-MM",
                   help="the month (default: the last refreshed)")
    p.add_argument("--level", choices=LEVELS, help="only warnings of this level")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(run=run_warnings)


def run_refresh(args: argparse.Namespace, settings: HubSettings) -> int:
    from streams.indicator_store import refresh_indicators, this_month  # not every command's

    through = args.through or this_month()
    conn = postgres.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            done = refresh_indicators(cur, through, settings.indicator_months,
                                      settings.small_cell_k)
    finally:
        conn.close()
    print(f"indicators of {done.first_month}..{done.last_month} from {done.residents} "
          f"residents: {done.rows} non-zero counts in hub.indicators")
    return 0


def current_warnings(cur: Any, month: str | None, level: str | None, small_cell_k: int
                     ) -> list[EarlyWarning]:
    """The warnings of `month` (default: the last refreshed), of one level or all."""
    from streams.early_warnings import early_warnings
    from streams.indicator_store import stored_indicators

    stored = stored_indicators(cur)
    if stored is None:
        raise InputError("no indicators yet: run `sanwang indicators refresh` first")
    if month is not None and month not in stored.months:
        raise InputError(f"{month} is outside the refreshed months "
                         f"{stored.months[0]}..{stored.months[-1]}")
    found = early_warnings(stored.series, stored.months, stored.units, month,
                           max(small_cell_k, stored.small_cell_k), stored.withheld)
    return [w for w in found if level is None or w.level == level]


def run_warnings(args: argparse.Namespace, settings: HubSettings) -> int:
    conn = postgres.connect(postgres.dsn(settings))
    try:
        with conn.cursor() as cur:
            found = current_warnings(cur, args.month, args.level, settings.small_cell_k)
    finally:
        conn.close()
    for warning in found:
        if args.json:
            print(json.dumps(dataclasses.asdict(warning), ensure_ascii=False))
        else:
            print(f"{warning.kind:<10} {warning.level:<9} {warning.unit_code} {warning.unit_name}"
                  f" {warning.indicator} {warning.month}: {warning.explanation}")
    if not args.json:
        print(f"{len(found)} warnings")
    return 0
