"""Compare two records and decide what links them (pure): rules first, then Fellegi-Sunter.

Layers, as the merge applies them:
1. `department_key`: one department's own person number (its declaration's `person_key`)
   links that department's records.
2. `id_number`: the same trusted ID number links across departments when the evidence of the
   other fields does not outweigh it: the pair's whole score (the number's weight included)
   reaches `link`. So an agreeing name and address carry a number past one contradicting field
   (a clerk's slip in sex or birth date), while a number whose name and address disagree is
   two people sharing one number, or a relative's number typed by mistake (`id_conflict`, a
   conflict for stewards).
3. `probabilistic`: a Fellegi-Sunter score, the sum of log2(m/u) of each field's agreement
   level, with m and u estimated from the data (streams/estimate.py). At or above `link` the
   records link; between `review` and `link` they go to the review queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
from rapidfuzz.distance import OSA

from streams.features import RecordFeatures, date_slip
from streams.normalize_address import Address, same_place
from streams.spouses import Partners, spouse_level

NO_PARTNERS: Partners = {}

FIELDS = ("id", "name", "birth", "sex", "address", "phone", "spouse")
LEVELS = {
    "id": ("exact", "near", "differ"),
    "name": ("exact", "pinyin", "close", "differ"),
    "birth": ("exact", "compatible", "slip", "year", "differ"),
    "sex": ("agree", "differ"),
    "address": ("same", "near", "differ"),
    "phone": ("agree", "differ"),
    "spouse": ("agree", "differ"),  # what the spouse a record names says (streams/spouses.py)
}
RULE_STRENGTH = {"steward": 0, "department_key": 1, "id_number": 2, "probabilistic": 3,
                 "review": 4, "id_conflict": 5}


@dataclass(frozen=True)
class Parameters:
    """m and u probabilities of each field's levels, and the decision thresholds (bits)."""

    m: dict[str, dict[str, float]]
    u: dict[str, dict[str, float]]
    link: float
    review: float

    def weight(self, field: str, level: str) -> float:
        return math.log2(self.m[field][level] / self.u[field][level])

    def to_json(self) -> dict[str, Any]:
        return {"m": self.m, "u": self.u, "link": self.link, "review": self.review}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Parameters:
        """Parameters as stored; a level estimated before it existed weighs nothing (m = u)."""
        m, u = ({f: {level: levels.get(f, {}).get(level, 1.0) for level in LEVELS[f]}
                 for f in FIELDS} for levels in (value["m"], value["u"]))
        return cls(m, u, float(value["link"]), float(value["review"]))


class Edge(msgspec.Struct, frozen=True):
    """Why two records may be one person: the rule, the score and the fields that agreed."""

    a: str
    b: str
    rule: str  # steward | department_key | id_number | probabilistic; review | id_conflict
    score: float
    agreed: tuple[str, ...]

    @property
    def links(self) -> bool:
        return self.rule in ("steward", "department_key", "id_number", "probabilistic")


def comparison(a: RecordFeatures, b: RecordFeatures, partners: Partners = NO_PARTNERS
               ) -> dict[str, str | None]:
    """Each field's agreement level; None where either record lacks the field. `partners`:
    who the store's records name as spouse, by number (spouses.partners_of)."""
    return {
        "id": _id_level(a, b),
        "name": _name_level(a, b),
        "birth": _birth_level(a.birth, b.birth),
        "sex": None if not (a.sex and b.sex) else "agree" if a.sex == b.sex else "differ",
        "address": _address_level(a, b),
        "phone": None if not (a.phone and b.phone) else "agree" if a.phone == b.phone
        else "differ",
        "spouse": spouse_level(a, b, partners),
    }


def score(levels: dict[str, str | None], parameters: Parameters) -> float:
    return sum(parameters.weight(f, lv) for f, lv in levels.items() if lv is not None)


def compare(a: RecordFeatures, b: RecordFeatures, parameters: Parameters,
            partners: Partners = NO_PARTNERS) -> Edge | None:
    """The strongest reason to join `a` and `b`, or None when there is none worth keeping."""
    first, second = sorted((a.ref, b.ref))
    if a.person_key and a.person_key == b.person_key:
        return Edge(first, second, "department_key", math.inf, ("person_key",))
    levels = comparison(a, b, partners)
    total = score(levels, parameters)
    agreed = tuple(f for f, lv in levels.items() if lv in ("exact", "agree", "same"))
    if levels["id"] == "exact":
        rule = "id_number" if total >= parameters.link else "id_conflict"
        return Edge(first, second, rule, total, agreed)
    if total >= parameters.review:
        return Edge(first, second, "probabilistic" if total >= parameters.link else "review",
                    total, agreed)
    return None


def _id_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    x, y = a.trusted_id or a.id_digits, b.trusted_id or b.id_digits
    if not x or not y:
        return None
    if a.trusted_id and b.trusted_id:
        return "exact" if x == y else "differ"
    return "near" if edit_distance(x, y) <= 2 else "differ"


def _name_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if not a.name or not b.name:
        return None
    if a.name == b.name:
        return "exact"
    if a.pinyin and a.pinyin == b.pinyin:
        return "pinyin"
    # a character wrong, swapped or left out; not in two-character names, where it is the
    # whole given name (李宁, 李旭: two people of one family)
    one_edit = max(len(a.name), len(b.name)) >= 3 and edit_distance(a.name, b.name) <= 1
    return "close" if one_edit or edit_distance(a.pinyin, b.pinyin) <= 1 else "differ"


def _birth_level(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return None
    if a == b and len(a) == 10:
        return "exact"
    if a.startswith(b) or b.startswith(a):
        return "compatible"  # one is partial (1956-03) and agrees with the other
    if date_slip(a, b):
        return "slip"  # a digit, month and day swapped, a day or a year off
    return "year" if a[:4] == b[:4] else "differ"


def _address_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if not a.addresses or not b.addresses:
        return None
    best = max(same_place(x, y) for x in a.addresses for y in b.addresses)
    return "same" if best >= 0.9 else "near" if best >= 0.5 else "differ"


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: substitutions, insertions, deletions, adjacent swaps
    (rapidfuzz's, compiled: 0.1 µs a pair of names where the Python one took 68 µs; the tests
    hold it to a reference)."""
    return OSA.distance(a, b)


@dataclass(frozen=True)
class RecordKeys:
    """Where a record is stored (`stored`) and where it looks for others (`lookup`). Records
    `a` and `b` are compared when `a.lookup` meets `b.stored`, which holds exactly when
    `b.lookup` meets `a.stored`: the streaming merge meets a pair whichever comes first, and a
    merge's recheck finds records that concurrent merges stored (streams/merge.py)."""

    stored: frozenset[str]
    lookup: frozenset[str]


def keys_of(r: RecordFeatures) -> RecordKeys:
    """A record's blocking keys. Symmetric keys are stored and looked up alike: department
    person number, ID number, phone (which finds a sparse record, without number or birth
    date, by its phone), pinyin with birth year, pinyin with community. Two kinds are
    one-sided, so the many common records are not stored under keys only rare ones need:

    - One-deletion variants of a number (`id~`), which meet one-edit typos, are stored only for
      numbers the matcher does not trust (an invalid number's characters, a valid one
      contradicting its record); a trusted number looks them up, and an untrusted one looks up,
      under `id:`, every checksum-valid number sharing a variant with it. Two trusted numbers
      that differ compare as `differ` anyway.
    - Surname with whole birth date (`bd`); a date given only to the month (`bp`) meets every
      record of that surname and month (`bm`, stored for whole dates, looked up by partial
      ones). Surname with month for everyone made blocks grow with the city (bench/README.md).
    - A record without a name (a birth certificate before the child is named) meets the named
      records born that day in its community (`nf`, stored by named records, looked up by
      nameless ones; `nx` the other way round), and nothing else by these keys.
    - A record without number and birth date (a registration giving a name, a sex and an
      address) meets every record of the same house (`hs`, stored by the others, looked up by
      it; `hx` the other way round): a misspelt name then still finds its person there.
    - A record naming spouse S (`sn:S` stored, `si:S` looked up) meets the records of S that
      name a spouse (`si:` their number stored, `sn:` looked up): their pair says nothing, but
      a merge's recheck then sees a concurrent merge change the evidence (streams/spouses.py).
    """
    shared, stored_only, lookup_only = _sided_keys(r, lookups=True)
    return RecordKeys(stored=frozenset(shared | stored_only),
                      lookup=frozenset(shared | lookup_only))


def stored_keys(r: RecordFeatures) -> frozenset[str]:
    """`keys_of(r).stored` without working out the number variants only a lookup needs: what a
    merge asks of the many records its lookups find (streams/resolve.py)."""
    shared, stored_only, _ = _sided_keys(r, lookups=False)
    return frozenset(shared | stored_only)


def _sided_keys(r: RecordFeatures, lookups: bool) -> tuple[set[str], set[str], set[str]]:
    """The keys `keys_of` explains: shared, stored only, looked up only (without the ID-number
    variants a trusted number or an untrusted one looks up, unless `lookups`)."""
    shared: set[str] = set()  # stored and looked up
    stored_only: set[str] = set()  # the common side's keys the rare side looks up
    lookup_only: set[str] = set()  # never stored: the other side's keys of a one-sided kind
    if r.person_key:
        shared.add(f"pk:{r.person_key}")
    number = r.id_number or r.id_digits
    if number:
        shared.add(f"id:{number}")
        if not r.trusted_id:
            shared.update(_deletion_keys(number))
        if lookups:
            lookup_only.update(_deletion_keys(number) if r.trusted_id else
                               (f"id:{near}" for near in near_valid_numbers(number)))
    if r.phone:
        shared.add(f"ph:{r.phone}")
    if r.pinyin:
        if r.birth:
            shared.add(f"nb:{r.pinyin}|{r.birth[:4]}")
        for address in r.addresses:
            if address.community:
                shared.add(f"na:{r.pinyin}|{address.community}")
    if r.name and r.birth and len(r.birth) == 10:
        shared.add(f"bd:{r.birth}|{r.name[0]}")
        stored_only.add(f"bm:{r.birth[:7]}|{r.name[0]}")
        lookup_only.add(f"bp:{r.birth[:7]}|{r.name[0]}")
    elif r.name and r.birth and len(r.birth) == 7:
        shared.add(f"bp:{r.birth}|{r.name[0]}")
        lookup_only.add(f"bm:{r.birth}|{r.name[0]}")
    sparse = not (number or r.birth)
    for house in {_house(a) for a in r.addresses} - {None}:
        (lookup_only if sparse else stored_only).add(f"hs:{house}")
        (stored_only if sparse else lookup_only).add(f"hx:{house}")
    stored_only.update(f"sn:{number}" for number in r.spouses)
    lookup_only.update(f"si:{number}" for number in r.spouses)
    if r.spouses and r.trusted_id:
        stored_only.add(f"si:{r.trusted_id}")
        lookup_only.add(f"sn:{r.trusted_id}")
    if r.birth and len(r.birth) == 10:
        for place in {f"{r.birth}|{a.community}" for a in r.addresses if a.community}:
            (stored_only if r.name else lookup_only).add(f"nf:{place}")
            (lookup_only if r.name else stored_only).add(f"nx:{place}")
    return shared, stored_only, lookup_only


def _house(address: Address) -> str | None:
    """A house, whatever the district's spelling (None: an address not down to the house)."""
    if not (address.community and address.house_number):
        return None
    return f"{address.community}|{address.group or ''}|{address.street or ''}|" \
           f"{address.house_number}"


def _deletion_keys(number: str) -> set[str]:
    return {f"id~{number[:i]}{number[i + 1:]}" for i in range(len(number))}


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643 MOD 11-2
WEIGHT_INVERSES = tuple(pow(weight, -1, 11) for weight in ID_WEIGHTS)  # modulo 11
CHECK_CHARACTERS = "10X98765432"  # the check character of each weighted sum modulo 11
DIGITS = frozenset("0123456789")


@lru_cache(maxsize=1 << 10)  # a batch asks again for its records (25 KiB each: keep it small)
def near_valid_numbers(typed: str) -> frozenset[str]:
    """Every 18-character number passing the MOD 11-2 check that shares a one-deletion variant
    with `typed`: what an 18-character typo (a wrong, swapped, dropped-and-added character) may
    have been typed for. Solved position by position (the one digit that makes the check
    character right), not by trying all 3,564 strings."""
    if len(typed) != 18:
        return frozenset()
    found: set[str] = set()
    for rest in {typed[:i] + typed[i + 1:] for i in range(18)}:  # put one back anywhere
        if set(rest[:16]) <= DIGITS:
            if rest[16] in DIGITS:  # appended last, as the check character
                found.add(rest + _check_character(rest))
            if rest[16] in CHECK_CHARACTERS:  # inserted before: rest[16] is the check character
                found.update(_insertions(rest[:16], rest[16]))
    return frozenset(found)


def _insertions(body: str, check: str) -> list[str]:
    """Numbers `body` (16 digits) + one digit inserted + `check` whose check character holds.

    A digit inserted at j leaves the weighted sum of the digits before it as they are and
    shifts those after it to the next weight: both parts are running sums over the body, so
    the 17 places cost one pass, not 17."""
    target = CHECK_CHARACTERS.index(check)
    digits = [int(c) for c in body]
    before = [0] * 17  # before[j]: the digits left of place j, at their own weights
    for k in range(16):
        before[k + 1] = before[k] + ID_WEIGHTS[k] * digits[k]
    after = [0] * 17  # after[j]: the digits right of place j, at the next weight
    for k in range(15, -1, -1):
        after[k] = after[k + 1] + ID_WEIGHTS[k + 1] * digits[k]
    out = []
    for j in range(17):
        digit = (target - before[j] - after[j]) * WEIGHT_INVERSES[j] % 11
        if digit <= 9:
            out.append(f"{body[:j]}{digit}{body[j:]}{check}")
    return out


def _check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(w * int(c) for w, c in zip(ID_WEIGHTS, first17, strict=True)) % 11]
