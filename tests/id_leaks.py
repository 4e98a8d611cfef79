"""Find checksum-valid resident ID numbers (GB 11643) in text: logs, metrics, errors must hold none.

Independent of the hub's own parser on purpose (stdnum's check character and birth date only),
so a bug there cannot hide a leak.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def _valid(number: str) -> bool:
    number = number.upper()
    if ric.calc_check_digit(number) != number[-1]:
        return False
    try:
        born = ric.get_birth_date(number)
    except ValidationError:
        return False
    return date(1880, 1, 1) <= born <= date(2100, 12, 31)


def id_numbers_in(text: str) -> list[str]:
    """Every valid 18-character ID number in `text` (an invalid one is no one's)."""
    return [m[0] for m in _CANDIDATE.finditer(text) if _valid(m[0])]
