"""Where the spouse evidence's records are in the store (streams/spouses.py), found by the keys
that evidence stores: `sn:S` on a record naming S as its spouse, `si:S` on a record of number S
naming a spouse, `id:N` on a record of number N. Two statements per batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from deploy.id_keys import process_keyring
from streams import id_protection as ids
from streams import record_store as records
from streams.features import RecordFeatures
from streams.resolve import MAX_BLOCK
from streams.spouses import Partners, claimed, indexed, partners_of

Found = dict[str, records.Candidate]


def reach(cur: object, batch: dict[str, RecordFeatures], found: Found) -> Found:
    """The stored records, beyond `found`, that the evidence of the batch's pairs needs: the
    records naming a batch record's number as their spouse's and those naming theirs; the
    records of each spouse the batch and `found` name (whose word is the evidence); the records
    of the numbers the batch's spouses say they married."""
    in_hand = {**{ref: c.features for ref, c in found.items()}, **batch}
    # the batch's own records are not fetched: the second round would look up their numbers'
    # spouse keys (`sn:`), which this first round looks up already
    first = _fetch(cur, {f"sn:{f.trusted_id}" for f in batch.values() if f.trusted_id}
                   | {f"si:{s}" for f in in_hand.values() for s in f.spouses}, batch)
    in_hand |= {ref: c.features for ref, c in first.items() if ref not in batch}
    partners = partners_of(in_hand.values())
    numbers = {f.trusted_id for f in batch.values()}
    second = _fetch(cur, {f"sn:{c.features.trusted_id}" for c in first.values()
                          if c.features.trusted_id and c.features.spouses & numbers}
                    | {f"id:{n}" for f in batch.values() for n in claimed(f, partners)}, batch)
    return {ref: c for ref, c in (first | second).items() if ref not in batch and ref not in found}


def _fetch(cur: object, keys: set[str], batch: dict[str, RecordFeatures]) -> Found:
    if not keys:
        return {}
    protect = ids.key_protector(process_keyring())
    return records.candidates(cur, set(map(protect, keys)), MAX_BLOCK, batch)


def paths(batch: Iterable[RecordFeatures], in_hand: Iterable[RecordFeatures],
          partners: Partners) -> dict[str, set[str]]:
    """Each batch record's evidence: the records it passes through or reaches (what a recheck
    must see again when a concurrent merge wrote one of them)."""
    by_number, naming = indexed(in_hand)
    out: dict[str, set[str]] = {}
    for x in batch:
        via = {r.ref for s in x.spouses for r in by_number.get(s, ()) if r.spouses}
        via |= {r.ref for n in claimed(x, partners) for r in by_number.get(n, ())}
        for r in naming.get(x.trusted_id or "", ()):
            if r.trusted_id:
                via |= {r.ref} | {n.ref for n in naming.get(r.trusted_id, ())}
        out[x.ref] = via - {x.ref}
    return out
