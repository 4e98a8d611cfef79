"""`sanwang connect DEPARTMENT ...`: each department's backfill and live source."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

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
        "Sending the same records again stores nothing twice.")
    departments = connect.add_subparsers(dest="department", required=True, metavar="DEPARTMENT")
    for department in all_departments().values():
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
    if getattr(args, "file", None) is not None:
        return _backfill(settings, department.id, args.file, not args.no_progress)
    _serve_metrics(settings)
    stop = _stop_on_signals()
    if getattr(args, "db", None):
        from connectors.table_live import stream_table_changes

        print(f"streaming {department.live.table} changes (Ctrl-C stops)", flush=True)
        stream_table_changes(settings, department, args.db, stop)
    elif getattr(args, "watch", None):
        return _watch(settings, department.id, Path(args.watch), stop)
    else:
        _listen(settings, args.listen)
    return 0


def _backfill(settings: HubSettings, department: str, path: Path, progress: bool) -> int:
    from connectors.file_backfill import backfill_file

    if not path.is_file():
        print(f"sanwang connect: no such file: {path}", file=sys.stderr)
        return 2
    try:
        tally = backfill_file(settings, department, path, progress=progress)
    except ValueError as error:  # wrong format or header: nothing was published
        print(f"sanwang connect: {error}", file=sys.stderr)
        return 2
    print(f"{department} {path.name}: {tally.summary()}")
    return 0 if tally.reconciles else 1


def _watch(settings: HubSettings, department: str, folder: Path, stop: threading.Event) -> int:
    from connectors.drop_folder import DropFolder, watch
    from connectors.file_backfill import open_publish_path, source_for

    if not folder.is_dir():
        print(f"sanwang connect: no such folder: {folder}", file=sys.stderr)
        return 2
    checkpoints, publisher = open_publish_path(settings, department)
    print(f"watching {folder} (Ctrl-C stops)", flush=True)
    try:
        watch(DropFolder(folder, checkpoints, publisher.destination),
              lambda path: source_for(department, path), publisher, checkpoints, stop,
              on_file=lambda name, tally: print(f"{name}: {tally.summary()}", flush=True))
    finally:
        publisher.close()
    return 0


def _listen(settings: HubSettings, address: str) -> None:
    import uvicorn

    from connectors.file_backfill import open_publish_path
    from connectors.push_api import create_push_app, push_departments
    from connectors.push_tokens import load_tokens

    host, _, port = (address or f"127.0.0.1:{settings.push_port}").rpartition(":")
    tokens_path = settings.home.resolve() / "secrets" / "push-tokens.json"
    tokens = load_tokens(tokens_path)
    pushing = push_departments()
    publishers = {d.id: open_publish_path(settings, d.id)[1] for d in pushing.values()}
    routes = ", ".join(f"/push/{name}" for name in pushing)
    print(f"push endpoint on http://{host or '127.0.0.1'}:{port}: {routes}; "
          f"tokens in {tokens_path}", flush=True)
    try:
        uvicorn.run(create_push_app(tokens, publishers), host=host or "127.0.0.1",
                    port=int(port), log_level="warning")
    finally:
        for publisher in publishers.values():
            publisher.close()


def _serve_metrics(settings: HubSettings) -> None:
    from prometheus_client import start_http_server

    try:
        start_http_server(settings.connector_metrics_port, addr=settings.metrics_host)
    except OSError as error:
        print(f"metrics not served on port {settings.connector_metrics_port}: {error}",
              file=sys.stderr)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
