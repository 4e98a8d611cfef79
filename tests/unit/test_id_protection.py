"""ID numbers sealed at rest: round trips, tampering, wrong and rotated keys, hashes, masks."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from streams import id_protection as ids

KEYRING = ids.new_keyring()
NUMBER = "511803198111163399"
DIGITS = st.text("0123456789", min_size=17, max_size=17)


def valid_number(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")  # it reads the first 17 only


@given(st.text())
def test_any_text_opens_to_itself(text: str) -> None:
    assert ids.open_sealed(KEYRING, ids.seal(KEYRING, text)) == text


@given(DIGITS)
def test_a_sealed_number_does_not_show_it(first17: str) -> None:
    number = valid_number(first17)
    sealed = ids.seal(KEYRING, number)
    assert ids.is_sealed(sealed) and number not in sealed and first17[6:14] not in sealed
    assert ids.key_id_of(sealed) == KEYRING.current


def test_sealing_is_deterministic_under_one_key_and_differs_across_keyrings() -> None:
    assert ids.seal(KEYRING, NUMBER) == ids.seal(KEYRING, NUMBER)
    assert ids.seal(KEYRING, NUMBER) != ids.seal(KEYRING, NUMBER[:-1] + "0")
    assert ids.seal(ids.new_keyring(), NUMBER) != ids.seal(KEYRING, NUMBER)


@given(st.data())
def test_any_changed_character_is_detected(data: st.DataObject) -> None:
    sealed = ids.seal(KEYRING, NUMBER)
    body_start = len(ids.PREFIX) + len(KEYRING.current) + 1
    at = data.draw(st.integers(body_start, len(sealed) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHabcdefgh0123456789-_"))
    tampered = sealed[:at] + replacement + sealed[at + 1:]
    if tampered != sealed:
        with pytest.raises(ids.SealError):
            ids.open_sealed(KEYRING, tampered)


def test_a_value_moved_to_another_key_id_does_not_open() -> None:
    rotated = ids.with_new_key(KEYRING)
    sealed = ids.seal(rotated, NUMBER)
    relabelled = sealed.replace(f":{rotated.current}:", f":{KEYRING.current}:", 1)
    with pytest.raises(ids.SealError):
        ids.open_sealed(rotated, relabelled)


def test_a_wrong_key_or_a_missing_key_refuses_to_open() -> None:
    sealed = ids.seal(KEYRING, NUMBER)
    stranger = ids.Keyring(KEYRING.current, {KEYRING.current: b"\x01" * 32}, KEYRING.lookup_key)
    with pytest.raises(ids.SealError):
        ids.open_sealed(stranger, sealed)
    with pytest.raises(ids.SealError, match="does not hold"):
        ids.open_sealed(ids.Keyring("k9", {"k9": b"\x02" * 32}, KEYRING.lookup_key), sealed)
    with pytest.raises(ids.SealError):
        ids.open_sealed(KEYRING, NUMBER)


def test_after_a_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    old = ids.seal(KEYRING, NUMBER)
    rotated = ids.with_new_key(KEYRING)
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    assert ids.open_sealed(rotated, old) == NUMBER
    new = ids.seal(rotated, NUMBER)
    assert ids.key_id_of(new) == "k2" and new != old
    assert ids.lookup_hash(rotated, NUMBER) == ids.lookup_hash(KEYRING, NUMBER)
    with pytest.raises(ids.SealError):
        ids.open_sealed(KEYRING, new)


def test_the_keyring_survives_its_json_and_refuses_bad_keys() -> None:
    rotated = ids.with_new_key(KEYRING)
    again = ids.keyring_from_json(ids.keyring_to_json(rotated))
    assert again == rotated
    assert ids.open_sealed(again, ids.seal(KEYRING, NUMBER)) == NUMBER
    with pytest.raises(ValueError):
        ids.Keyring("k1", {"k1": b"short"}, KEYRING.lookup_key)
    with pytest.raises(ValueError):
        ids.Keyring("k2", {"k1": b"\x00" * 32}, KEYRING.lookup_key)


@given(DIGITS, DIGITS)
def test_lookup_hashes_are_keyed_and_tell_numbers_apart(a: str, b: str) -> None:
    x, y = valid_number(a), valid_number(b)
    assert (ids.lookup_hash(KEYRING, x) == ids.lookup_hash(KEYRING, y)) == (x == y)
    assert ids.lookup_hash(KEYRING, x) != ids.lookup_hash(ids.new_keyring(), x)
    assert x not in ids.lookup_hash(KEYRING, x)


def test_the_mask_keeps_region_and_last_four() -> None:
    assert ids.mask(NUMBER) == "511803********3399"
    assert ids.mask(None) is None


@given(DIGITS, st.text(max_size=20), st.integers())
def test_documents_are_sealed_wherever_a_number_sits_and_open_back(
        first17: str, other: str, count: int) -> None:
    number = valid_number(first17)
    document = {"raw": {"身份证号": number, "业务内容": json.dumps({"配偶身份证号": number})},
                "spaced": f"{number[:6]} {number[6:]}",
                "wide": "５１１８０３１９８１１１１６３３９９",
                "list": [number, other], "count": count, "none": None}
    sealed = ids.seal_document(KEYRING, document)
    assert number not in json.dumps(sealed, ensure_ascii=False)
    assert sealed["count"] == count and sealed["none"] is None
    assert ids.seal_document(KEYRING, sealed) == sealed  # sealing twice changes nothing
    assert ids.open_document(KEYRING, sealed) == document


@pytest.mark.parametrize("text", ["enc:v1:", "enc:v1:k1:AAAA", "enc:v1:nokey:x 511803"])
def test_a_text_that_only_looks_sealed_opens_back_as_it_was(text: str) -> None:
    """Hypothesis found it: a department's text starting with the sealed prefix was left as it
    was and then failed to open (SealError) wherever its document was read back."""
    document = {"note": text, "list": [text]}
    sealed = ids.seal_document(KEYRING, document)
    assert ids.seal_document(KEYRING, sealed) == sealed
    assert ids.open_document(KEYRING, sealed) == document


LEAVES = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
          | st.text(max_size=8) | DIGITS.map(valid_number)
          | DIGITS.map(lambda digits: f"配偶 {digits[:9]} {digits[9:]}号"))


def leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


@given(st.recursive(LEAVES, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=4), children, max_size=4), max_leaves=12))
def test_any_document_seals_every_number_and_nothing_else_and_opens_back(document: object
                                                                           ) -> None:
    sealed = ids.seal_document(KEYRING, document)
    for before, after in zip(leaves(document), leaves(sealed), strict=True):
        if isinstance(before, str) and ids.holds_id_number(before):
            assert ids.is_sealed(after) and ids.open_sealed(KEYRING, after) == before
        else:
            assert after == before and type(after) is type(before)
    assert ids.open_document(KEYRING, sealed) == document


def test_an_event_is_sealed_whole_and_opens_only_unchanged() -> None:
    event = json.dumps({"id": "0123456789", "data": {"parsed": {"id_number": NUMBER}}}).encode()
    sealed = ids.seal_bytes(KEYRING, event)
    assert NUMBER.encode() not in sealed and sealed == ids.seal_bytes(KEYRING, event)
    assert ids.open_bytes(KEYRING, sealed) == event
    with pytest.raises(ids.SealError):
        ids.open_bytes(KEYRING, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(ids.SealError):
        ids.open_bytes(ids.new_keyring(), sealed.replace(b":k1:", b":k9:"))


def test_id_blocking_keys_become_keyed_hashes_and_others_stay() -> None:
    hashed = ids.key_protector(KEYRING)(f"id:{NUMBER}")
    assert hashed.startswith("id:") and NUMBER not in hashed
    assert ids.key_protector(KEYRING)(f"id~{NUMBER[1:]}").startswith("id~")
    assert ids.key_protector(KEYRING)(f"id:{NUMBER}") == hashed
    assert ids.key_protector(KEYRING)("nb:zeng xia xuan|1981") == "nb:zeng xia xuan|1981"


@given(st.lists(st.text(max_size=20), max_size=8))
def test_a_protector_hashes_each_key_as_one_keyed_hash_would(numbers: list[str]) -> None:
    """The keyed hash set up once and copied gives what a store's keys were written with: one
    BLAKE2b keyed afresh for each key, whatever keys came before."""
    protect = ids.key_protector(KEYRING)
    subkey = ids._subkey(KEYRING.lookup_key, b"blocking keys")
    for number in numbers:
        fresh = hashlib.blake2b(number.encode(), key=subkey, digest_size=16).hexdigest()
        assert protect(f"id~{number}") == f"id~{fresh}"


def test_resident_columns() -> None:
    sealed, lookup, masked = ids.resident_columns(KEYRING, NUMBER)
    assert ids.open_sealed(KEYRING, sealed) == NUMBER
    assert lookup == ids.lookup_hash(KEYRING, NUMBER) and masked == ids.mask(NUMBER)
    assert ids.resident_columns(KEYRING, None) == (None, None, None)
