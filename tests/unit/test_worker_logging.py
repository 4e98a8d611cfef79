"""The processor's worker at `--loglevel warning` builds no debug records (faust's spinner
would set the root logger to DEBUG for every library's debug calls)."""

import io
import logging

import faust

from streams.worker import _Worker


def test_a_worker_at_warning_leaves_the_root_logger_at_warning() -> None:
    app = faust.App("test-worker-logging", broker="kafka://127.0.0.1:1", autodiscover=False,
                    web_enabled=False)
    worker = _Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    root = logging.Logger("root-stand-in", logging.WARNING)
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    worker.on_setup_root_logger(root, logging.WARNING)
    assert root.level == logging.WARNING
    assert root.handlers == [handler]
    assert not root.isEnabledFor(logging.DEBUG)
