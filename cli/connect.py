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

CLI_NAMES = {"police": "police", "civil-affairs": "civil_affairs",
             "social-security": "social_security"}


def add_connect_parser(commands: argparse._SubParsersAction) -> None:
    connect = commands.add_parser(
        "connect", help="publish a department's records (backfill or live)",
        description="Publish one canonical event per department record. Records that cannot be "
        "mapped go to the dead-letter topic with their reason, origin and raw bytes. A backfill "
        "prints read = published + dead-lettered; killed, it resumes where the broker last "
        "acknowledged. Sending the same records again stores nothing twice. Live modes serve "
        "/metrics on $SANWANG_CONNECTOR_METRICS_PORT (taken: a free port, printed).")
    departments = connect.add_subparsers(dest="department", required=True, metavar="DEPARTMENT")

    p = departments.add_parser("police", help="公安: GB18030 CSV export, or the live table",
                               description="Police population records (t_rk_bdjl).")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="full export, GB18030 CSV")
    source.add_argument("--db", metavar="DSN", help="the police PostgreSQL (libpq DSN): stream "
                        "inserted and corrected rows by logical replication (slot and "
                        "publication `sanwang_police`; the role needs REPLICATION and to own "
                        "t_rk_bdjl) until Ctrl-C")

    p = departments.add_parser("civil-affairs", help="民政: CSV/XLSX export, or a drop folder",
                               description="Civil affairs business registrations.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="full export, .csv (UTF-8 with BOM) or .xlsx")
    source.add_argument("--watch", type=Path, metavar="DIR", help="take every finished .csv or "
                        ".xlsx dropped in DIR exactly once (never a NAME.part) until Ctrl-C")

    p = departments.add_parser("social-security", help="人社: JSONL export, or HTTP push",
                               description="Social security insurance, employment and pension "
                               "records.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="full export, UTF-8 JSONL")
    source.add_argument("--listen", metavar="HOST:PORT", nargs="?", const="",
                        help="serve POST /push/social-security (Authorization: Bearer <token "
                        "from $SANWANG_HOME/secrets/push-tokens.json>) until Ctrl-C; default "
                        "127.0.0.1:$SANWANG_PUSH_PORT (19102)")

    for parser in departments.choices.values():
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.set_defaults(run=run_connect)


def run_connect(args: argparse.Namespace, settings: HubSettings) -> int:
    department = CLI_NAMES[args.department]
    stop = stopping.handle_stop_signals()
    if getattr(args, "file", None) is not None:
        return _backfill(settings, department, args.file, not args.no_progress, stop)
    if getattr(args, "watch", None) and not args.watch.is_dir():
        raise InputError(f"no such folder: {args.watch}")
    if not until_ready(lambda: _check_kafka(settings, department), stop):
        return 0  # asked to stop while waiting for Kafka
    given = "connector_metrics_port" in settings.model_fields_set
    port = serve_metrics(settings, CONNECTORS, settings.connector_metrics_port, given)
    print(f"connector metrics on http://{settings.metrics_host}:{port}/metrics", flush=True)
    if getattr(args, "db", None):
        from connectors.police_cdc import ensure_replication
        from connectors.police_live import PUBLICATION, SLOT, stream_police_changes

        if until_ready(lambda: ensure_replication(args.db, SLOT, PUBLICATION), stop):
            print("streaming police changes (SIGTERM / Ctrl-C stops)", flush=True)
            stream_police_changes(settings, args.db, stop)
    elif getattr(args, "watch", None):
        return _watch(settings, department, args.watch, stop)
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
    from connectors.push_api import PUSH_MAPPINGS, create_push_app
    from connectors.push_tokens import load_tokens

    host, _, port = (address or f"127.0.0.1:{settings.push_port}").rpartition(":")
    sock = bind(host or "127.0.0.1", int(port))
    tokens_path = settings.home.resolve() / "secrets" / "push-tokens.json"
    tokens = load_tokens(tokens_path)
    publishers = {d: open_publish_path(settings, d)[1] for d, _ in PUSH_MAPPINGS.values()}
    print(f"push endpoint on http://{host or '127.0.0.1'}:{port}/push/social-security; "
          f"tokens in {tokens_path}", flush=True)
    try:
        serve(create_push_app(tokens, publishers), sock)
    finally:
        for publisher in publishers.values():
            publisher.close()
