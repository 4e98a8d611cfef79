"""The departments' contract's synthetic sample cities, copied into tests/fixtures/ verbatim (the
repository stands alone), and the sample's records as the connectors map them."""

from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "sample"  # three departments
SAMPLE5 = FIXTURES / "sample5"  # the same city as all five departments export it


@cache
def sample_events() -> tuple[dict[str, Any], ...]:
    """Every record of the three sample exports as a canonical event."""
    from connectors import civil_affairs, police, social_security
    from connectors.csv_source import read_csv
    from connectors.jsonl_source import read_jsonl

    events = [police.police_event(r.columns, r.origin) for r in read_csv(
        SAMPLE / "police_population.csv", police.CSV_ENCODING, police.CSV_HEADER)]
    events += [civil_affairs.civil_affairs_event(r.columns, r.origin) for r in read_csv(
        SAMPLE / "civil_affairs.csv", civil_affairs.CSV_ENCODING, civil_affairs.CSV_HEADER)]
    events += [social_security.social_security_event(r.columns, r.origin)
               for r in read_jsonl(SAMPLE / "social_security.jsonl")]
    return tuple(events)
