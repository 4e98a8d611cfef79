"""Waiting for the services a long-running process needs, and telling Prometheus meanwhile.

A processor or live connector started before Kafka or PostgreSQL answer (a reboot, a
Kubernetes rollout) waits for them with backoff instead of failing; `sanwang_service_reachable`
shows what it waits for, and the SanwangServiceUnreachable alert fires when that lasts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import Gauge

from deploy.errors import Unreachable

log = logging.getLogger(__name__)
REACHABLE = Gauge("sanwang_service_reachable",
                  "1 when this process last reached the service, 0 while it retries",
                  ["service"])
FIRST_DELAY, MAX_DELAY = 1.0, 30.0


def mark_reachable(service: str, reachable: bool) -> None:
    REACHABLE.labels(service).set(1 if reachable else 0)


def until_ready(check: Callable[[], None], stop: threading.Event) -> bool:
    """Run `check` until it passes (True) or a stop is requested (False). Unreachable is
    retried with backoff and logged; any other error is raised: retrying cannot cure it."""
    delay = FIRST_DELAY
    while not stop.is_set():
        try:
            check()
            return True
        except Unreachable as error:
            log.warning("%s; trying again in %.0f s", error, delay)
        stop.wait(delay)
        delay = min(delay * 2, MAX_DELAY)
    return False
