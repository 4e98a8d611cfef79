"""What a source yields: one record as read, with its columns or the reason it has none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.fields import FieldError, check_text, mask_id_numbers, parse_id_number
from deploy.errors import InputError

T = TypeVar("T")


class MappingError(InputError):
    """A record that cannot become a canonical event; the message names the field and why
    (ID numbers in it masked)."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_id_numbers(message))


class UnreadableFileError(InputError):
    """A file whose header cannot be read (wrong encoding, wrong columns, not a spreadsheet):
    none of its records can be, so the whole file is refused before anything is published."""


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: its raw bytes and origin always, its columns when they could be read.

    When the record could not even be split into columns (wrong encoding, wrong column count,
    broken JSON), `columns` is None, `reason` names the kind of damage (a metric label) and
    `error` says what exactly; the record then goes to the dead-letter topic.
    `position` is where reading resumes after this record (a byte offset in a file).
    """

    origin: dict[str, Any]
    raw_bytes: bytes
    columns: dict[str, Any] | None = None
    reason: str = ""
    error: str = ""
    position: int = 0


def parse_column(columns: dict[str, Any], column: str, parser: Callable[[Any], T]) -> T:
    """Run one field parser, naming the column in the error when the value cannot be read."""
    try:
        return parser(columns.get(column))
    except FieldError as error:
        raise MappingError(f"{column}: {error}") from error


def id_number_field(columns: dict[str, Any], column: str) -> dict[str, str | None] | None:
    """The ID number as events carry it: verbatim, and its valid 18-character form or None."""
    number = parse_column(columns, column, parse_id_number)
    return None if number is None else {"original": number.original,
                                        "normalized": number.normalized}


def required_text(columns: dict[str, Any], column: str) -> str:
    value = columns.get(column)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{column}: missing")
    try:
        return check_text(value.strip())
    except FieldError as error:
        raise MappingError(f"{column}: {error}") from error


def optional_text(value: Any) -> str | None:
    """Blank or missing text becomes None; anything else is kept, stripped."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"expected text, got {type(value).__name__} {value!r}")
    return check_text(value.strip()) or None
