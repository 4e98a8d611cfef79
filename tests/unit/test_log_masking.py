"""Log records of a `sanwang` process never carry a valid ID number, message or traceback."""

from __future__ import annotations

import io
import logging

from cli.log_masking import mask_log_records
from tests.id_leaks import id_numbers_in

VALID = "511802195603121339"  # checksum-valid (as in test_id_leaks), made up


def _logged(emit) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("test.log_masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_messages_arguments_and_tracebacks_are_masked() -> None:
    previous = logging.getLogRecordFactory()
    mask_log_records()
    mask_log_records()  # idempotent
    try:
        def emit(logger: logging.Logger) -> None:
            logger.warning("bad id_number %s in record %d", VALID, 7)
            logger.warning(f"inline {VALID}")
            try:
                raise ValueError(f'duplicate key (id_number)=({VALID})')
            except ValueError:
                logger.exception("batch failed")

        text = _logged(emit)
    finally:
        logging.setLogRecordFactory(previous)
    assert id_numbers_in(text) == []
    assert "511802********1339" in text and "record 7" in text and "ValueError" in text


def test_without_the_factory_the_number_shows() -> None:
    """The check above can fail: the same lines, unmasked, hold the number."""
    text = _logged(lambda logger: logger.warning("bad id_number %s", VALID))
    assert id_numbers_in(text) == [VALID]
