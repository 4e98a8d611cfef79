"""`sanwang connect DEPARTMENT ...`: each department's backfill and live source."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from deploy import stopping
from deploy.errors import InputError
from deploy.metrics_targets import CONNECTORS, serve_metrics
from deploy.reachability import until_ready
from deploy.settings import HubSettings

LIVE_HELP = {
    "logical_replication": ("--db", "DSN", "the department's PostgreSQL (libpq DSN): stream "
                            "inserted and corrected rows of {table} by logical replication (slot "
                            "and publication sanwang_{id}; the role needs REPLICATION and to own "
                            "the table) until Ctrl-C"),
    "drop_folder": ("--watch", "DIR", "take every finished export dropped in DIR exactly once "
                    "(never a NAME.part) until Ctrl-C"),
    "http_push": ("--listen", "HOST:PORT", "serve the push endpoint, POST /push/<department> for "
                  "every department that pushes (Authorization: Bearer <token from "
                  "$SANWANG_HOME/secrets/push-tokens.json>), until Ctrl-C; default "
                  "127.0.0.1:$SANWANG_PUSH_PORT (19102)"),
}


def add_connect_parser(commands: argparse._SubParsersAction) -> None:
    from schemas.departments import all_departments

    connect = commands.add_parser(
        "connect", help="publish a department's records (backfill or live)",
        description="Publish one canonical event per department record, as the department's "
        "declaration (departments/<id>.toml) says. Records that cannot be mapped go to the "
        "dead-letter topic with their reason, origin and raw bytes. A backfill prints read = "
        "published + dead-lettered; killed, it resumes where the broker last acknowledged. "
        "Sending the same records again stores nothing twice. Live modes serve /metrics on "
        "$SANWANG_CONNECTOR_METRICS_PORT (taken: a free port, printed).")
    departments = connect.add_subparsers(dest="department", required=True, metavar="DEPARTMENT")
    for department in all_departments().values():
        if department.live.kind == "query_api":
            continue  # its records come through the query API, from its principals
        formats = " or ".join(f"{f.suffix} ({f.kind}" + (f", {f.encoding})" if f.kind == "csv"
                                                        else ")") for f in department.formats)
        p = departments.add_parser(department.cli_name,
                                   help=f"{department.name}: {department.title}",
                                   description=f"{department.name} {department.title}.")
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", type=Path, help=f"full export: {formats}")
        flag, metavar, text = LIVE_HELP[department.live.kind]
        source.add_argument(flag, metavar=metavar, help=text.format(
            table=department.live.table, id=department.id),
            **({"nargs": "?", "const": ""} if flag == "--listen" else {}))
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(run=run_connect, declared=department.id)


def run_connect(args: argparse.Namespace, settings: HubSettings) -> int:
    from schemas.departments import department as declared

    department = declared(args.declared)
    stop = stopping.handle_stop_signals()
    if getattr(args, "file", None) is not None:
        return _backfill(settings, department.id, args.file, not args.no_progress, stop)
    if getattr(args, "watch", None) and not Path(args.watch).is_dir():
        raise InputError(f"no such folder: {args.watch}")
    if not until_ready(lambda: _check_kafka(settings, department.id), stop):
        return 0  # asked to stop while waiting for Kafka
    given = "connector_metrics_port" in settings.model_fields_set
    port = serve_metrics(settings, CONNECTORS, settings.connector_metrics_port, given)
    print(f"connector metrics on http://{settings.metrics_host}:{port}/metrics", flush=True)
    if getattr(args, "db", None):
        from connectors.table_cdc import ensure_replication
        from connectors.table_live import replication_name, stream_table_changes

        name = replication_name(department)
        if until_ready(lambda: ensure_replication(args.db, department.live.table or "", name,
                                                  name), stop):
            print(f"streaming {department.live.table} changes (SIGTERM / Ctrl-C stops)",
                  flush=True)
            stream_table_changes(settings, department, args.db, stop)
    elif getattr(args, "watch", None):
        return _watch(settings, department.id, Path(args.watch), stop)
    else:
        _listen(settings, args.listen)
    return 0


def _check_kafka(settings: HubSettings, department: str) -> None:
    from deploy.kafka_check import check_kafka
    from schemas.topics import dead_letter_topic, raw_topic

    prefix = settings.topic_prefix
    check_kafka(settings, department, writes=(raw_topic(prefix, department),
                                              dead_letter_topic(prefix)))


def _backfill(settings: HubSettings, department: str, path: Path, progress: bool,
              stop: threading.Event) -> int:
    from connectors.file_backfill import backfill_file

    if not path.is_file():
        print(f"sanwang connect: no such file: {path}", file=sys.stderr)
        return 2
    tally = backfill_file(settings, department, path, progress=progress, stop=stop)
    print(f"{department} {path.name}: {tally.summary()}")
    return 0 if tally.reconciles else 1


def _watch(settings: HubSettings, department: str, folder: Path, stop: threading.Event) -> int:
    from connectors.drop_folder import DropFolder, watch
    from connectors.file_backfill import open_publish_path, source_for

    checkpoints, publisher = open_publish_path(settings, department)
    print(f"watching {folder} (SIGTERM / Ctrl-C stops)", flush=True)
    try:
        watch(DropFolder(folder, checkpoints, publisher.destination),
              lambda path: source_for(department, path), publisher, checkpoints, stop,
              on_file=lambda name, tally: print(f"{name}: {tally.summary()}", flush=True))
    finally:
        publisher.close()
    return 0


def _listen(settings: HubSettings, address: str) -> None:
    from cli.serving import bind, serve
    from connectors.file_backfill import open_publish_path
    from connectors.push_api import create_push_app, push_departments
    from connectors.push_tokens import load_tokens

    host, _, port = (address or f"127.0.0.1:{settings.push_port}").rpartition(":")
    sock = bind(host or "127.0.0.1", int(port))
    tokens_path = settings.home.resolve() / "secrets" / "push-tokens.json"
    tokens = load_tokens(tokens_path)
    pushing = push_departments()
    publishers = {d.id: open_publish_path(settings, d.id)[1] for d in pushing.values()}
    routes = ", ".join(f"/push/{name}" for name in pushing)
    print(f"push endpoint on http://{host or '127.0.0.1'}:{port}: {routes}; "
          f"tokens in {tokens_path}", flush=True)
    try:
        serve(create_push_app(tokens, publishers), sock)
    finally:
        for publisher in publishers.values():
            publisher.close()
