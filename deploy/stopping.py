"""Stopping when asked: SIGTERM (systemd, Kubernetes) or SIGINT (Ctrl-C) starts an orderly stop,
and the process ends with 128 + the signal's number (143, 130) at the latest
STOP_DEADLINE_SECONDS after it, whatever the broker and the database are doing.

Ending before an orderly stop finished is safe: no part of the hub acknowledges a batch before
PostgreSQL committed it, nor saves a source's progress before the broker acknowledged the
records behind it, so whatever was in flight is delivered again (at least once).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import NoReturn

log = logging.getLogger(__name__)
STOP_DEADLINE_SECONDS = 6.0
requested = threading.Event()  # set once a stop signal came
_signals: list[int] = []
_on_stop: list[Callable[[], None]] = []


def handle_stop_signals() -> threading.Event:
    """Make SIGTERM and SIGINT request a stop (main thread only); returns `requested`."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: request_stop(signum))
    return requested


def request_stop(signum: int) -> None:
    """Note the first stop signal and start its deadline (faust's and uvicorn's own signal
    handlers call this too)."""
    if not _signals:
        _signals.append(signum)
        log.info("%s received: stopping", signal.Signals(signum).name)
        threading.Thread(target=_deadline, name="stop-deadline", daemon=True).start()
    requested.set()


def on_stop(callback: Callable[[], None]) -> None:
    """Run `callback` when the process ends because it was asked to (e.g. leave Prometheus'
    targets); a process that fails keeps its traces, so that monitoring sees it down."""
    _on_stop.append(callback)


def stop_exit_code() -> int | None:
    """128 + the stop signal's number once a stop was requested, else None."""
    return 128 + _signals[0] if _signals else None


def exit_stopped() -> NoReturn:
    """End a process that was asked to stop, now: its exit code, its `on_stop` callbacks, and no
    other cleanup (which could acknowledge or save what must be done again)."""
    for callback in _on_stop:
        callback()
    logging.shutdown()
    os._exit(stop_exit_code() or 0)


def _deadline() -> None:
    time.sleep(STOP_DEADLINE_SECONDS)
    # straight to stderr: the thread that hangs may hold the logging handlers' locks
    os.write(2, f"still stopping {STOP_DEADLINE_SECONDS:.0f} s after the signal: ending now "
                "(what was in flight is delivered again)\n".encode())
    for callback in _on_stop:
        callback()
    os._exit(stop_exit_code() or 0)
