"""The departments' contract's synthetic sample cities, copied into tests/fixtures/ verbatim (the
repository stands alone), and the sample's records as the connectors map them."""

from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "sample"  # three departments
SAMPLE5 = FIXTURES / "sample5"  # the same city as all five departments export it


def mapping(department: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    """A department's record -> canonical event, as its declaration says."""
    from connectors.mapping import to_event
    from schemas.departments import department as declared

    return partial(to_event, declared(department))


def header(department: str) -> list[str]:
    """The columns of a department's export, in order."""
    from schemas.departments import department as declared

    return declared(department).header


def encoding(department: str) -> str:
    """The encoding of a department's first export format."""
    from schemas.departments import department as declared

    return declared(department).formats[0].encoding


@cache
def sample_events() -> tuple[dict[str, Any], ...]:
    """Every record of the three sample exports as a canonical event."""
    from connectors.csv_source import read_csv
    from connectors.jsonl_source import read_jsonl

    events = [mapping("police")(r.columns, r.origin) for r in read_csv(
        SAMPLE / "police_population.csv", encoding("police"), header("police"))]
    events += [mapping("civil_affairs")(r.columns, r.origin) for r in read_csv(
        SAMPLE / "civil_affairs.csv", encoding("civil_affairs"), header("civil_affairs"))]
    events += [mapping("social_security")(r.columns, r.origin)
               for r in read_jsonl(SAMPLE / "social_security.jsonl")]
    return tuple(events)


EXPORTS = {"police": "police_population.csv", "civil_affairs": "civil_affairs.csv",
           "social_security": "social_security.jsonl", "party": "party_members.csv",
           "health": "health_certificates.csv"}


@cache
def sample5_events() -> tuple[dict[str, Any], ...]:
    """Every record of the five-department sample's exports as a canonical event."""
    from connectors.file_backfill import source_for

    events = []
    for department, name in EXPORTS.items():
        read_from, to_event, _, _ = source_for(department, SAMPLE5 / name)
        events += [to_event(r.columns, r.origin) for r in read_from(0)]
    return tuple(events)
