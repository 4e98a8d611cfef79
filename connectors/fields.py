"""Parse the raw text values the departments send into typed values (pure, no I/O).

Every parser returns None for missing input (None, "", whitespace) and raises FieldError for
a value it cannot read, except parse_id_number: a mistyped ID number is data, not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from stdnum.cn import ric

from deploy.errors import InputError

MIN_YEAR, MAX_YEAR = 1880, 2100

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space, as typed with Chinese input methods.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_DATE_FORMATS = (
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
    re.compile(r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?:(?P=sep)(?P<d>[0-9]{1,2}))?"),
    re.compile(r"(?P<y>[0-9]{4})年(?:(?P<m>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})日)?)?"),
)
_ISO_DATE = re.compile(r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2}))?)?")
_SEXES = {"男": "M", "男性": "M", "1": "M", "女": "F", "女性": "F", "2": "F"}
_SEX_CODES = {"1": "M", "2": "F", "0": None, "9": None}  # GB/T 2261.1: 0 unknown, 9 unstated


# 18 characters that may be an ID number; only a checksum-valid one is masked.
_ID_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_ID_15 = re.compile(r"[0-9]{15}")  # the first-generation form: no century, no check digit


def mask_id_number(number: str) -> str:
    """The masked form analysts see (hub.residents.id_number_masked), and errors quote: region
    code and last four only."""
    return number[:6] + "********" + number[-4:]


def mask_id_numbers(text: str) -> str:
    """`text` with every valid ID number in it masked: errors and logs quote values, and a
    valid number is personal data that must not travel beyond the store."""
    return _ID_CANDIDATE.sub(
        lambda m: mask_id_number(m[0]) if _valid_18(m[0].upper()) else m[0], text)


class FieldError(InputError):
    """A department sent a value that cannot be read; the message quotes it, ID numbers masked."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_id_numbers(message))


def _clean(text: object) -> str | None:
    """Strip and de-full-width text so every parser sees ASCII digits; None when blank."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise FieldError(f"expected text, got {type(text).__name__} {text!r}")
    if not text.isascii():  # the table maps no ASCII character
        text = text.translate(_FULLWIDTH)
    text = text.strip()
    return text or None


# C0 and C1 controls (tab aside), line and paragraph separators, a BOM inside text: no name or
# address holds them; they come from damaged exports and would corrupt every display downstream.
_INVISIBLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
# Mojibake codecs, and a character neither can encode (U+2122 is the highest cp1252 has): text
# holding one cannot be their mojibake, and is not tried (which would raise twice).
_MOJIBAKE_CODECS = ("cp1252", "latin-1")
_BEYOND_MOJIBAKE_CODECS = re.compile("[^\x00-{}]".format(max(
    max(bytes(range(256)).decode(codec, "ignore")) for codec in _MOJIBAKE_CODECS)))


def check_text(text: str) -> str:
    """`text` unchanged, or FieldError when it holds control characters or is mojibake.

    Mojibake: UTF-8 bytes read as Latin-1 or cp1252 (张三 arriving as "å¼ ä¸‰"); reading the
    characters back as those bytes gives different, valid UTF-8.
    """
    bad = _INVISIBLE.search(text)
    if bad is not None:
        raise FieldError(f"control character U+{ord(bad[0]):04X} at {bad.start()} in {text[:80]!r}")
    if not text.isascii() and _BEYOND_MOJIBAKE_CODECS.search(text) is None:
        for codec in _MOJIBAKE_CODECS:
            try:
                if text.encode(codec).decode("utf-8") != text:
                    raise FieldError(f"mojibake (UTF-8 read as {codec}) {text[:80]!r}")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    return text


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date known to year, month or day precision: 1956年3月 must not become 1956-03-01."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        """Refuse impossible dates so that every PartialDate is a real (partial) calendar day."""
        ok = MIN_YEAR <= self.year <= MAX_YEAR and (self.month is not None or self.day is None)
        if ok and self.month is not None:
            ok = 1 <= self.month <= 12
            if ok and self.day is not None:
                try:
                    date(self.year, self.month, self.day)
                except ValueError:
                    ok = False
        if not ok:
            raise FieldError(f"impossible date {self.iso()!r}")

    def iso(self) -> str:
        """The ISO 8601 form at this precision ("1956", "1956-03", "1956-03-12") for storage."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        return text if self.day is None else f"{text}-{self.day:02d}"

    @classmethod
    def from_iso(cls, text: str) -> PartialDate:
        """Read back what iso() wrote, so stored dates keep their precision."""
        match = _ISO_DATE.fullmatch(text)
        if match is None:
            raise FieldError(f"not an ISO partial date {text!r}")
        return cls(*(int(g) if g else None for g in match.group("y", "m", "d")))


def parse_date(text: str | None) -> PartialDate | None:
    """Read the departments' date spellings (20190203, 2019-02-03, 2019/2/3, 2019.02.03,
    2019年2月3日, ...)."""
    clean = _clean(text)
    if clean is None:
        return None
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(clean)
        if match is not None:
            parts = [int(g) if g else None for g in match.group("y", "m", "d")]
            try:
                return PartialDate(*parts)
            except FieldError:
                raise FieldError(f"impossible date {text!r}") from None
    raise FieldError(f"unrecognised date format {text!r}")


def parse_sex(text: str | None) -> str | None:
    """Map 男/女, 男性/女性 and the GB/T 2261.1 codes 1/2 to "M"/"F"."""
    clean = _clean(text)
    if clean is None:
        return None
    if clean not in _SEXES:
        raise FieldError(f"unknown sex {text!r}")
    return _SEXES[clean]


def parse_sex_code(text: str | None) -> str | None:
    """Map the GB/T 2261.1 codes: 1 "M", 2 "F"; 0 (unknown) and 9 (unstated) say nothing."""
    clean = _clean(text)
    if clean is None:
        return None
    if clean not in _SEX_CODES:
        raise FieldError(f"not a GB/T 2261.1 sex code {text!r}")
    return _SEX_CODES[clean]


@dataclass(frozen=True)
class IdNumber:
    """A citizen ID as sent (kept verbatim for audit) and its valid 18-character form, if any."""

    original: str
    normalized: str | None

    @property
    def valid(self) -> bool:
        """Whether the number passed the GB 11643 checks and can be used to link records."""
        return self.normalized is not None


def _valid_18(number: str) -> bool:
    """GB 11643 check: 17 digits, MOD 11-2 check character, real birth date (region unchecked)."""
    # Not ric.validate: it also wants the region code to exist in the birth year, which rejects
    # most real numbers (雨城区 511802 dates from 2000, yet people born in 1956 carry it).
    if not _ID_18.fullmatch(number) or ric.calc_check_digit(number) != number[-1]:
        return False
    try:  # id_birth_date's checks, without stdnum compacting the number again
        PartialDate(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except FieldError:
        return False
    return True


def parse_id_number(text: str | None) -> IdNumber | None:
    """Normalise a citizen ID (spaces, x, legacy 15 digits); a bad one is data, not an error."""
    clean = _clean(text)
    if text is None or clean is None:
        return None
    # stdnum's compact maps no ASCII letter or digit: upper() is all it does to those
    number = clean.upper() if clean.isascii() and clean.isalnum() else "".join(
        ric.compact(clean).split())
    if _ID_15.fullmatch(number):
        number17 = number[:6] + "19" + number[6:]
        number = number17 + ric.calc_check_digit(number17 + "0")
    return IdNumber(text, number if _valid_18(number) else None)


def id_birth_date(normalized: str) -> PartialDate:
    """The birth date encoded in a valid 18-character ID number."""
    born = ric.get_birth_date(normalized)
    return PartialDate(born.year, born.month, born.day)


def id_sex(normalized: str) -> str:
    """The sex encoded in a valid ID number: odd 17th digit is "M", even is "F"."""
    return "M" if int(normalized[16]) % 2 else "F"


_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
_PHONE_DIGITS = re.compile(r"\+?[0-9]+")


def parse_phone(text: str | None) -> str | None:
    """Reduce a phone number to its digits: 11-digit mobiles, landlines with area code kept."""
    clean = _clean(text)
    if clean is None:
        return None
    digits = _PHONE_SEPARATORS.sub("", clean)
    if not _PHONE_DIGITS.fullmatch(digits):
        raise FieldError(f"phone number contains non-digits {text!r}")
    if digits.startswith(("+86", "0086")):
        digits = digits.removeprefix("+86").removeprefix("0086")
        if not digits.startswith(("0", "1")):  # +86 835 2222333: the trunk 0 is left out abroad
            digits = "0" + digits
    elif digits.startswith("+"):
        raise FieldError(f"foreign phone number {text!r}")
    if len(digits) < 7 or len(digits) > 12:
        raise FieldError(f"phone number has {len(digits)} digits {text!r}")
    if digits.startswith("1") and len(digits) != 11:
        raise FieldError(f"mobile number does not have 11 digits {text!r}")
    return digits


def parse_timestamp(text: str | None) -> datetime | None:
    """Read an ISO 8601 timestamp; one without a UTC offset is refused, never guessed."""
    clean = _clean(text)
    if clean is None:
        return None
    try:
        moment = datetime.fromisoformat(clean)
    except ValueError:
        raise FieldError(f"not an ISO 8601 timestamp {text!r}") from None
    if moment.utcoffset() is None:
        raise FieldError(f"timestamp without UTC offset {text!r}")
    return moment
