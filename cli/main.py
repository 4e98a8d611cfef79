"""`sanwang`: the hub's command line. Each subcommand is a thin shell over one package's API."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from cli.api import add_api_parser
from cli.connect import add_connect_parser
from cli.ids import add_ids_parser
from cli.indicators import add_indicators_parsers
from cli.log_masking import mask_log_records
from cli.resident import add_resident_parser
from cli.steward import add_steward_parser
from connectors.fields import mask_id_numbers
from deploy import stopping
from deploy.errors import (
    EXIT_CRASH,
    BrokerError,
    ConfigurationError,
    HubError,
    InputError,
    KeyringError,
    ServiceError,
    StoreError,
)
from deploy.settings import HubSettings

DESCRIPTION = """Sanwang Hub (三网合一数据枢纽): departments publish their residents' records once;
the hub merges them and shares them back.

The local stack (Apache Kafka in KRaft mode, PostgreSQL, Prometheus) keeps its state in
$SANWANG_HOME (default .sanwang/). Point the hub at external services with
SANWANG_KAFKA_BOOTSTRAP and SANWANG_DATABASE_URL; `up` then starts neither.

A first run:  sanwang up; sanwang process &; sanwang connect DEPARTMENT --file F; sanwang wait
Departments are declared in departments/*.toml (`sanwang connect --help` lists them)."""

EXIT_STATUS = (
    (0, "done"),
    (1, "done, with something to report (unhealthy, wait timed out, records refused)"),
    (InputError.exit_code, "bad arguments or input (a file missing, a decision refused)"),
    (ConfigurationError.exit_code, "bad configuration (settings, secrets, a port taken)"),
    (ServiceError.exit_code, "a service not running or not answering (Kafka, PostgreSQL, ...)"),
    (BrokerError.exit_code, "Kafka refused (authentication, authorization, a topic missing) or "
                            "did not acknowledge"),
    (StoreError.exit_code, "PostgreSQL refused the role or database, or lacks migrations"),
    (KeyringError.exit_code, "the ID-number keyring is missing or does not open a value"),
    (EXIT_CRASH, "an unexpected error (a processor stops before acknowledging its batch)"),
    (130, "stopped by SIGINT (Ctrl-C); long-running commands stop within 10 s"),
    (143, "stopped by SIGTERM (systemd, Kubernetes); the same"),
)
EPILOG = "exit status:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_STATUS)


def _up(args: argparse.Namespace, settings: HubSettings) -> int:
    from deploy.stack import up

    up(settings)
    return 0


def _down(args: argparse.Namespace, settings: HubSettings) -> int:
    from deploy.stack import down

    down(settings)
    return 0


def _status(args: argparse.Namespace, settings: HubSettings) -> int:
    from deploy.postgres import role_dsns
    from deploy.stack import status_as_dicts

    components = status_as_dicts(settings)
    if args.json:
        print(json.dumps({"components": components, "database_roles": role_dsns(settings)},
                         indent=2, ensure_ascii=False))
    else:
        for c in components:
            state = f"up, version {c['version']}" if c["healthy"] else f"DOWN ({c['error']})"
            print(f"{c['name']:<11} {c['managed']:<8} {c['endpoint']:<28} {state}")
    return 0 if all(c["healthy"] for c in components) else 1


def _publish(args: argparse.Namespace, settings: HubSettings) -> int:
    from connectors.publish_api import publish_events, read_event_lines
    from schemas.departments import department

    try:
        source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from None
    with source:
        report = publish_events(settings, department(args.department).id,
                                read_event_lines(source))
    for index, reason in report.rejected:
        print(f"event {index}: refused: {reason}", file=sys.stderr)
    print(f"published {len(report.accepted)}, refused {len(report.rejected)} (dead-lettered)")
    return 0 if not report.rejected else 1


def _generate(args: argparse.Namespace, settings: HubSettings) -> int:
    from connectors.synthetic_city import generate_city

    try:
        args.dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot write into {args.dir}: {error.strerror}") from None
    stats = generate_city(args.persons, args.seed, args.dir, args.noise, args.plant_warnings)
    records = ", ".join(f"{source} {n}" for source, n in sorted(stats.records.items()))
    findings = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.findings.items()))
    print(f"{args.dir}: {stats.persons} persons in {stats.households} households "
          f"({stats.deceased} deceased, {stats.twins} twin pairs); records: {records}; "
          f"findings: {findings}")
    return 0


def _grids(args: argparse.Namespace, settings: HubSettings) -> int:
    from deploy import postgres
    from streams.grids import read_grids_csv, reassign_grids, store_grids

    try:
        rows = read_grids_csv(args.file)
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from None
    conn = postgres.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            count = store_grids(cur, rows)
            placed, unplaced = reassign_grids(cur)
    except ValueError as error:  # a column missing, or a coverage rule broken
        raise InputError(str(error)) from None
    finally:
        conn.close()
    print(f"{count} grids loaded; residents placed {placed}, not placeable {unplaced} "
          "(listed in hub.unplaced_residents)")
    return 0


def _eval(args: argparse.Namespace, settings: HubSettings) -> int:
    from streams.evaluation import read_truth, store_scores

    if not args.truth.is_file():
        print(f"sanwang eval: no such file: {args.truth}", file=sys.stderr)
        return 2
    scores = store_scores(settings, read_truth(args.truth))
    print(f"records compared {scores.records}: pairs predicted {scores.predicted}, true "
          f"{scores.true}, correct {scores.correct}")
    print(f"precision {scores.precision:.4f}  recall {scores.recall:.4f}  f1 {scores.f1:.4f}")
    return 0


def _rebuild(args: argparse.Namespace, settings: HubSettings) -> int:
    from tqdm import tqdm

    from deploy import postgres
    from streams.rebuild import rebuild_store

    dsn = postgres.dsn(settings)
    conn = postgres.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM hub.events")
            (total,) = cur.fetchone()
    finally:
        conn.close()
    with tqdm(total=total, unit="events", disable=args.no_progress) as bar:
        read = rebuild_store(dsn, bar.update)
    print(f"rebuilt the store from {read} landed events")
    return 0


def _estimate(args: argparse.Namespace, settings: HubSettings) -> int:
    from tqdm import tqdm

    from deploy import postgres
    from streams.landing import HubStore
    from streams.parameter_store import load_parameters
    from streams.reestimate import reestimate, store_size
    from streams.relink import pending

    conn = postgres.connect(postgres.dsn(settings))
    try:
        with conn, conn.cursor() as cur:
            size = store_size(cur)
            if size.records < 2:
                print("sanwang estimate: the store holds no records yet", file=sys.stderr)
                return 2
            done = reestimate(cur, size)
            parameters = load_parameters(cur).parameters
            queued = pending(cur)
    finally:
        conn.close()
    print(f"estimated from a sample of {done.sampled} of the {done.records} records"
          " (streams/estimation_sample.py) and the stewards' latest decisions:"
          f" {done.confirmed} confirmed pairs, {done.split} split pairs used")
    print("(m: pairs the rules tie and confirmed pairs, never split ones;"
          " u: random pairs and split pairs):")
    for field, levels in parameters.m.items():
        weights = ", ".join(f"{lv} {parameters.weight(field, lv):+.1f}" for lv in levels)
        print(f"  {field:<8} {weights}  (bits)")
    if not done.queued:
        print("The parameters stored were these already; nothing to link again.")
    store = HubStore(postgres.dsn(settings))
    try:
        with tqdm(total=queued, unit="records", disable=args.no_progress or not queued) as bar:
            while (records := store.relink_batch()) is not None:
                bar.update(records)
    finally:
        store.close()
    if queued:
        print(f"Stored in hub.match_parameters (processors switch at their next batch);"
              f" {queued} records linked again with them.")
    return 0


def _process(args: argparse.Namespace, settings: HubSettings) -> int:
    stopping.handle_stop_signals()  # before faust's import, which takes seconds on a busy host
    from streams.worker import run_worker

    return run_worker(settings, metrics_port=args.metrics_port, loglevel=args.loglevel)


def _wait(args: argparse.Namespace, settings: HubSettings) -> int:
    from deploy.kafka_auth import PROCESSOR
    from deploy.kafka_check import check_kafka
    from schemas.topics import processor_group, raw_topics
    from streams.lag import wait_for_processor

    check_kafka(settings, PROCESSOR, reads=raw_topics(settings.topic_prefix),
                group=processor_group(settings.topic_prefix))  # refused or down: said at once
    try:
        wait_for_processor(settings, args.timeout, require_processor=True)
    except TimeoutError as error:
        print(f"sanwang wait: {error}", file=sys.stderr)
        return 1
    print("processor caught up: every published event is stored")
    return 0


def _demo(args: argparse.Namespace, settings: HubSettings) -> int:
    from cli.demo import run_demo

    return run_demo(settings, args.city, args.persons, args.seed, args.live_seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanwang", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("demo", help="the whole flow on a local stack, start to end",
                            description="Start the local stack, generate a city, run a "
                            "processor, backfill every department's export, keep live "
                            "changes coming through each department's live path (table "
                            "inserts streamed by logical replication, dropped files, HTTP "
                            "pushes), and report records, residents, precision/recall "
                            "against the city's truth, findings, latency.")
    p.add_argument("--persons", type=int, default=3000, help="people in the city (default 3000)")
    p.add_argument("--seed", type=int, default=1, help="the city's seed (default 1)")
    p.add_argument("--city", type=Path, default=None,
                   help="use this city instead of generating one (the departments' exports it "
                   "has, grids.csv, truth.csv; e.g. ../shared/departments/sample5)")
    p.add_argument("--live-seconds", type=float, default=30.0,
                   help="how long live changes keep coming (default 30)")
    p.set_defaults(run=_demo)

    p = commands.add_parser("up", help="start the local stack (idempotent)",
                            description="Start Kafka, PostgreSQL and Prometheus unless running; "
                            "create topics, apply database migrations. Returns when all answer.")
    p.set_defaults(run=_up)
    p = commands.add_parser("down", help="stop everything `up` started",
                            description="Stop the local Prometheus, PostgreSQL and Kafka; their "
                            "data stays in $SANWANG_HOME for the next `up`.")
    p.set_defaults(run=_down)
    p = commands.add_parser("status", help="each component's endpoint, health and real version",
                            description="Versions are the running services' own answers. "
                            "Exit status 0 only when every component is healthy.")
    p.add_argument("--json", action="store_true", help="machine-readable output, with each "
                   "database role's connection string (no password: libpq reads it from "
                   "$SANWANG_HOME/secrets/pgpass), e.g. for psql")
    p.set_defaults(run=_status)

    add_connect_parser(commands)

    p = commands.add_parser("publish", help="publish canonical events a department built itself",
                            description="Read canonical events (CloudEvents JSON, one per line; "
                            "build them with schemas.events.make_event) and publish them after "
                            "checking each against its schema in schemas/events/. Refused events "
                            "are listed with their reason and dead-lettered; exit 1 if any.")
    p.add_argument("department", help="the publishing department's id (its declaration in "
                   "departments/): every event's source must be it")
    p.add_argument("file", nargs="?", default="-", help="JSON lines file (default: stdin)")
    p.set_defaults(run=_publish)

    add_steward_parser(commands)
    add_resident_parser(commands)
    add_api_parser(commands)
    add_ids_parser(commands)
    add_indicators_parsers(commands)

    p = commands.add_parser("generate", help="a synthetic city in the departments' formats",
                            description="Write a synthetic city (deterministic by seed): every "
                            "department's export with its own realistic noise (typos, "
                            "homophones, traditional characters, full-width digits, 15-digit "
                            "and missing numbers, relatives' numbers, twins, nameless birth "
                            "certificates, moves, deaths), grids.csv, persons.csv, findings.csv "
                            "(every case of every finding kind in the data) and truth.csv. "
                            "Invented people only.")
    p.add_argument("dir", type=Path, help="output folder (created)")
    p.add_argument("--persons", type=int, default=5000, help="how many people (default 5000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--noise", type=int, choices=(0, 1, 2), default=1,
                   help="noise level (connectors/synthetic_rates.py): 0 no mistakes, 1 today's "
                   "(default), 2 twice today's plus slips in birth dates, sex and names, "
                   "records without number and birth date, stale and variant addresses, "
                   "duplicate ID numbers, common names in one village")
    p.add_argument("--plant-warnings", action="store_true",
                   help="add residents whose records carry a surge of floating registrations "
                   "in one village and a year-long rise of new 低保 in one township, listed in "
                   "warnings.csv (connectors/synthetic_warnings.py)")
    p.set_defaults(run=_generate)

    p = commands.add_parser("grids", help="load the four-level grid reference (grids.csv)",
                            description="Replace the grid reference (网格编码, 区县代码, 区县, "
                            "乡镇街道, 村社区, 网格名称, 覆盖范围) and place every resident again. "
                            "Processors use the new reference from their next batch on.")
    p.add_argument("file", type=Path, help="grids.csv")
    p.set_defaults(run=_grids)

    p = commands.add_parser("eval", help="pairwise precision / recall of the merge vs a truth",
                            description="Compare hub.source_links (which records the hub put "
                            "in one resident) with a truth file shaped like the sample's "
                            "truth.csv (source, record_id, person): pairwise precision, recall "
                            "and F1 over the records both know.")
    p.add_argument("truth", type=Path, help="truth CSV: source,record_id,person")
    p.set_defaults(run=_eval)

    p = commands.add_parser("estimate", help="estimate the matching parameters from the store",
                            description="Fellegi-Sunter m and u probabilities from the records "
                            "in the store itself (never from a truth file): u from random "
                            "pairs, m from pairs the deterministic rules already link. The "
                            "stewards' latest decisions are labelled pairs: a confirmed pair "
                            "counts towards m, a split pair towards u and never towards m. "
                            "Processors switch to them at their next batch, and every record "
                            "is linked again with them (the store ends as a clean run with "
                            "them would leave it). Processors also re-estimate by themselves "
                            "as the store grows (SANWANG_REESTIMATE_SECONDS).")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_estimate)

    p = commands.add_parser("rebuild", help="derive the store again from the landed events",
                            description="Work out again everything the merge derives (records' "
                            "features and facts, keys, edges, residents, golden values, "
                            "conflicts, findings) from hub.events, as after migration 013 "
                            "(deploy/DEPLOYING.md). Residents keep their ids; stewards' "
                            "decisions are honoured; the change feed is not flooded. Processors "
                            "wait meanwhile; interrupted, run it again to go on.")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_rebuild)

    p = commands.add_parser("process", help="run a processor worker (until SIGTERM / Ctrl-C)",
                            description="Consume every department's topic and store each event "
                            "once in PostgreSQL. Start more workers for more throughput: they "
                            "share the topics' partitions in one consumer group.")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="port of this worker's /metrics, which must be free (default: "
                   "$SANWANG_PROCESSOR_METRICS_PORT, or 19100, or a free port when another "
                   "worker has it; 0 = none). Printed at start; the local Prometheus finds "
                   "every worker")
    p.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=_process)

    p = commands.add_parser("wait", help="block until every published event is stored",
                            description="Exit 0 when the processor's consumer lag is 0; exit 1 "
                            "with how far behind it is when the timeout expires; exit 4 at once "
                            "when events wait and no processor is in the consumer group (nor "
                            "starting on this machine).")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    p.set_defaults(run=_wait)
    for leaf in leaf_parsers(parser):
        leaf.set_defaults(prog=leaf.prog)  # how errors name the command: `sanwang api serve`
    return parser


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser of a command that runs (no subcommands of its own) under `parser`."""
    found = []
    for action in parser._actions:  # noqa: SLF001 - argparse exposes no walk of its tree
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for child in dict.fromkeys(action.choices.values()):
                found += leaf_parsers(child)
    return found or [parser]


def _settings() -> HubSettings:
    try:
        return HubSettings()
    except ValidationError as error:
        raise ConfigurationError("; ".join(
            f"SANWANG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in error.errors())) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command; the hub's errors end it with one line and their exit status."""
    mask_log_records()
    args = build_parser().parse_args(argv)
    code = EXIT_CRASH
    try:
        code = args.run(args, _settings())
    except HubError as error:
        print(f"{args.prog}: {mask_id_numbers(str(error))}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:  # Ctrl-C in a command that does not handle it itself
        stopping.request_stop(signal.SIGINT)
    if stopping.requested.is_set():
        stopping.exit_stopped()
    return code


if __name__ == "__main__":
    sys.exit(main())
