"""One processor worker: its checks before it starts, its metrics port, faust, its stop.

Before faust starts, the worker checks what retrying cannot cure: Kafka refusing the processor's
principal, a topic or the consumer group it may not use, the store's migrations missing, no
ID-number keyring. Each ends the process at once, one line naming it. A broker or database that
does not answer is waited for (deploy/reachability.py). faust's own stop can hang while the
broker is gone (faust-streaming #324): the deadline of deploy/stopping.py ends it anyway.
"""

from __future__ import annotations

import logging
import signal

import faust

from deploy import id_keys, stopping
from deploy.errors import Unreachable
from deploy.kafka_auth import PROCESSOR
from deploy.kafka_check import check_kafka
from deploy.metrics_targets import PROCESSOR as PROCESSOR_JOB
from deploy.metrics_targets import serve_metrics
from deploy.migrations import check_migrated
from deploy.postgres import dsn
from deploy.reachability import mark_reachable, until_ready
from deploy.settings import HubSettings
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    processor_group,
    raw_topics,
)
from streams.app import create_app
from streams.heap import settle_heap


class _Worker(faust.Worker):
    """faust's worker, whose stop on SIGTERM or SIGINT keeps the hub's deadline, without the
    terminal spinner."""

    def _schedule_shutdown(self, signal: signal.Signals) -> None:  # mode's, for both signals
        stopping.request_stop(signal)
        super()._schedule_shutdown(signal)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """faust's turns the spinner on at `--loglevel warning` or above, by setting the root
        logger to DEBUG: every debug call of aiokafka and faust then builds a record, 3.5 to 3.9 %
        of a live worker's busy time (bench/README.md, "2026-12-07"). The level stays."""
        self.spinner = None


def check_services(settings: HubSettings) -> None:
    """What the processor needs, or the error that says what is missing."""
    id_keys.install(id_keys.load_keyring(settings))
    prefix = settings.topic_prefix
    check_kafka(settings, PROCESSOR, reads=raw_topics(prefix),
                writes=(dead_letter_topic(prefix), changes_topic(prefix), findings_topic(prefix)),
                group=processor_group(prefix))
    try:
        check_migrated(dsn(settings, "sanwang_processor"))
    except Unreachable:
        mark_reachable("postgresql", False)
        raise
    mark_reachable("postgresql", True)


def run_worker(settings: HubSettings, metrics_port: int | None, loglevel: str = "info") -> int:
    """Run one worker until stopped; more workers may join the same group. `metrics_port`: the
    one given (None: the setting's, or a free one when the default is taken; 0: none)."""
    stop = stopping.handle_stop_signals()
    given = metrics_port is not None or "processor_metrics_port" in settings.model_fields_set
    port = settings.processor_metrics_port if metrics_port is None else metrics_port
    if port:
        port = serve_metrics(settings, PROCESSOR_JOB, port, given)
        print(f"processor metrics on http://{settings.metrics_host}:{port}/metrics", flush=True)
    if not until_ready(lambda: check_services(settings), stop):
        return 0  # asked to stop while waiting
    worker = _Worker(create_app(settings), loglevel=loglevel, quiet=True)
    settle_heap()
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        return int(done.code or 0)
