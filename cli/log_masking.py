"""Every log record of a `sanwang` process has its valid ID numbers masked.

Errors quote values (a PostgreSQL error's DETAIL, a department's bad field), and a log line
leaves the store's protection; masking where each record is made covers every logger and
handler, faust's and kafka-python's included.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from connectors.fields import mask_id_numbers


def mask_log_records() -> None:
    """Install the masking record factory (once per process; a second call changes nothing)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_id_numbers", False):
        return

    def masked(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        unmasked = record.getMessage  # msg and args stay as they were: handlers may read them
        record.getMessage = lambda: mask_id_numbers(unmasked())  # type: ignore[method-assign]
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask_id_numbers(
                "".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    masked.masks_id_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)
