"""`sanwang api serve | add-principal`: the query API and who may use it."""

from __future__ import annotations

import argparse
import sys

import psycopg2

from deploy import postgres, stopping
from deploy.settings import HubSettings


def add_api_parser(commands: argparse._SubParsersAction) -> None:
    api = commands.add_parser(
        "api", help="the query API: serve it, add principals",
        description="The HTTP query API (OpenAPI at /docs and /openapi.json). Principals "
        "authenticate with `Authorization: Bearer <token>`.")
    actions = api.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("serve", help="serve the API until SIGTERM / Ctrl-C",
                           description="Serve the query API (and its /metrics) until SIGTERM "
                           "or Ctrl-C.")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="default 127.0.0.1:$SANWANG_API_PORT (19103)")
    p.set_defaults(run=_serve)
    p = actions.add_parser("add-principal", help="add a principal (prints its token once)",
                           description="Add who may use the API. department: a department's "
                           "system (the fields its declaration `reads`); analyst: "
                           "aggregates, findings, masked search; grid_worker: residents of "
                           "their grids only (row-level security on a database role of their "
                           "own); steward: conflicts, review queue, decisions, access logs.")
    p.add_argument("name")
    p.add_argument("--kind", required=True,
                   choices=["department", "analyst", "grid_worker", "steward"])
    p.add_argument("--department", metavar="ID",
                   help="a department principal's department (its declaration's id)")
    p.add_argument("--grids", default="", help="grid worker's grid codes, comma separated")
    p.set_defaults(run=_add_principal)


def _serve(args: argparse.Namespace, settings: HubSettings) -> int:
    stop = stopping.handle_stop_signals()  # first: the imports below take seconds on a busy host
    from api.app import create_app
    from api.grid_reports import ReportPublisher
    from cli.serving import bind, serve
    from deploy import id_keys, metrics_targets
    from deploy.migrations import check_migrated
    from deploy.prometheus import endpoint
    from deploy.reachability import until_ready

    host, _, port = (args.listen or f"127.0.0.1:{settings.api_port}").rpartition(":")
    sock = bind(host, int(port))
    id_keys.install(id_keys.load_keyring(settings))
    if not until_ready(lambda: check_migrated(postgres.dsn(settings, "sanwang_api")), stop):
        return 0  # asked to stop while waiting for PostgreSQL
    app = create_app(postgres.dsn(settings, "sanwang_api"),
                     postgres.dsn(settings, "sanwang_processor"), endpoint(settings),
                     ReportPublisher(settings))
    metrics_targets.register(settings, metrics_targets.API, host, int(port))
    print(f"query API on http://{host}:{port} (OpenAPI: /docs, console: /console)", flush=True)
    serve(app, sock)
    return 0


def _add_principal(args: argparse.Namespace, settings: HubSettings) -> int:
    from api.access import add_principal

    grids = tuple(g for g in args.grids.split(",") if g)
    conn = postgres.connect(postgres.dsn(settings, postgres.ADMIN_ROLE))
    try:
        with conn, conn.cursor() as cur:
            token = add_principal(cur, args.name, args.kind, args.department, grids)
    except (ValueError, psycopg2.Error) as error:
        print(f"sanwang api add-principal: {error}".strip(), file=sys.stderr)
        return 2
    finally:
        conn.close()
    print(f"{args.name} ({args.kind}) token, shown once: {token}")
    return 0
