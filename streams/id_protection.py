"""ID numbers at rest: sealed (AES-GCM), looked up by a keyed hash, shown masked (pure, no I/O).

A sealed value is `enc:v1:<key id>:<base64url(nonce | ciphertext | tag)>`; the key id names the
keyring key that sealed it, so values sealed before a rotation still open. The nonce is derived
from the plaintext (HMAC of a subkey), so one number seals to one value under one key: the
store stays comparable across runs and replays, and equality leaks no more than the lookup
hash already does. Lookups use HMAC-SHA256 under a separate key that rotations leave alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors.fields import mask_id_number
from deploy.errors import KeyringError

PREFIX = "enc:v1:"
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
ID_LIKE = re.compile(r"[0-9]{15}")  # a run of 15 digits: an ID number (15 or 18), or most of one


class SealError(KeyringError):
    """A sealed value that does not open: tampered, or sealed under a key the keyring lacks."""


@dataclass(frozen=True)
class Keyring:
    """The current key seals; every key opens what it sealed; `lookup_key` keys the hashes."""

    current: str
    keys: Mapping[str, bytes]
    lookup_key: bytes

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"the current key {self.current!r} is not in the keyring")
        for key_id, key in [*self.keys.items(), ("lookup", self.lookup_key)]:
            if not KEY_ID.match(key_id) or len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r}: ids are [A-Za-z0-9_-], keys {KEY_BYTES} bytes")


def new_keyring() -> Keyring:
    return Keyring("k1", {"k1": os.urandom(KEY_BYTES)}, os.urandom(KEY_BYTES))


def with_new_key(keyring: Keyring) -> Keyring:
    """A rotation's first step: a fresh current key; the older ones stay to open old values."""
    number = 1 + max((int(k[1:]) for k in keyring.keys if re.fullmatch(r"k[0-9]+", k)),
                     default=0)
    key_id = f"k{number}"
    return Keyring(key_id, {**keyring.keys, key_id: os.urandom(KEY_BYTES)}, keyring.lookup_key)


def keyring_to_json(keyring: Keyring) -> str:
    return json.dumps({"current": keyring.current, "lookup_key": _b64(keyring.lookup_key),
                       "keys": {k: _b64(v) for k, v in sorted(keyring.keys.items())}})


def keyring_from_json(text: str) -> Keyring:
    value = json.loads(text)
    return Keyring(value["current"], {k: _unb64(v) for k, v in value["keys"].items()},
                   _unb64(value["lookup_key"]))


def seal(keyring: Keyring, plaintext: str) -> str:
    """`plaintext` sealed under the current key (the same value for the same plaintext)."""
    return _seal(keyring.current, keyring.keys[keyring.current], plaintext)


@lru_cache(maxsize=1 << 16)  # deterministic, and the merge seals a resident's numbers often
def _seal(key_id: str, key: bytes, plaintext: str) -> str:
    header = f"{PREFIX}{key_id}:"
    data = plaintext.encode()
    nonce = hmac.digest(_subkey(key, b"nonce"), data, "sha256")[:12]
    sealed = _cipher(key).encrypt(nonce, data, header.encode())
    return header + _b64(nonce + sealed)


def open_sealed(keyring: Keyring, value: str) -> str:
    """The plaintext of a sealed value; SealError when tampered with or its key is unknown."""
    if not is_sealed(value):
        raise SealError("not a sealed value")
    key_id, _, body = value.removeprefix(PREFIX).partition(":")
    if key_id not in keyring.keys:
        raise SealError(f"sealed under key {key_id!r}, which the keyring does not hold")
    return _open(key_id, keyring.keys[key_id], body)


@lru_cache(maxsize=1 << 16)  # the merge opens the same records' numbers on every re-merge
def _open(key_id: str, key: bytes, body: str) -> str:
    try:
        raw = _unb64(body)
        if _b64(raw) != body:  # base64's spare bits: any change to the text must fail
            raise ValueError("not canonical base64")
        return _cipher(key).decrypt(
            raw[:12], raw[12:], f"{PREFIX}{key_id}:".encode()).decode()
    except (InvalidTag, ValueError) as error:
        raise SealError(f"sealed value under key {key_id!r} does not open") from error


def seal_bytes(keyring: Keyring, data: bytes) -> bytes:
    """Bytes (a landed event as it came) sealed whole: `<key id>:` then nonce, ciphertext and
    tag. Deterministic too, so a store compares across runs; one pass, no walk of a document."""
    key = keyring.keys[keyring.current]
    header = f"{PREFIX}{keyring.current}:".encode()
    nonce = hmac.digest(_subkey(key, b"nonce"), data, "sha256")[:12]
    return header + nonce + _cipher(key).encrypt(nonce, data, header)


def open_bytes(keyring: Keyring, sealed: bytes) -> bytes:
    """What `seal_bytes` sealed; SealError when tampered with or its key is unknown."""
    header, _, rest = bytes(sealed).removeprefix(PREFIX.encode()).partition(b":")
    key_id = header.decode(errors="replace")
    if not rest or key_id not in keyring.keys:
        raise SealError(f"sealed under key {key_id!r}, which the keyring does not hold")
    try:
        return _cipher(keyring.keys[key_id]).decrypt(rest[:12], rest[12:],
                                                     f"{PREFIX}{key_id}:".encode())
    except InvalidTag as error:
        raise SealError(f"sealed bytes under key {key_id!r} do not open") from error


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(value: str) -> str:
    return value.removeprefix(PREFIX).partition(":")[0]


def lookup_hash(keyring: Keyring, number: str) -> str:
    """The keyed hash that finds an ID number's resident without storing the number."""
    return _lookup_hash(keyring.lookup_key, number)


@lru_cache(maxsize=1 << 16)
def _lookup_hash(key: bytes, number: str) -> str:
    return hmac.digest(key, number.encode(), "sha256").hex()  # one-shot: the merge's hot path


def mask(number: str | None) -> str | None:
    """What analysts and grid workers see: region and last four, birth date hidden."""
    return None if number is None else mask_id_number(number)


def holds_id_number(text: str) -> bool:
    """Whether a string holds something like an ID number (full-width digits and spaces too)."""
    return bool(ID_LIKE.search("".join(unicodedata.normalize("NFKC", text).split())))


@lru_cache(maxsize=1 << 16)  # sealing asks of every string; attribute names, dates repeat
def _plain(text: str) -> bool:
    """Whether sealing leaves `text` as it is without a look at the keyring: no ID number in
    it, and not starting as a sealed value does."""
    return not text.startswith(PREFIX) and not holds_id_number(text)


def _sealed_here(keyring: Keyring, text: str) -> bool:
    """Whether `text` is a value this keyring sealed (and opens), not a department's text
    that only starts like one: that text is sealed in turn, so it opens back as it was."""
    try:
        open_sealed(keyring, text)
    except SealError:
        return False
    return True


SCALARS = (int, float, bool, type(None))  # JSON leaves that never hold a number to seal


def seal_document(keyring: Keyring, value: Any) -> Any:
    """A JSON value with every string holding an ID number sealed, wherever it sits, and every
    string that starts like a sealed value without being one this keyring opens (so that
    `open_document` gives it back as it was, instead of failing on it).

    The merge seals every document it writes, so the leaves left as they are (nearly all) are
    told apart inline, without a call of this function each."""
    if isinstance(value, str):
        if _plain(value) or (value.startswith(PREFIX) and _sealed_here(keyring, value)):
            return value
        return seal(keyring, value)
    if isinstance(value, dict):
        return {k: v if type(v) in SCALARS or (type(v) is str and _plain(v))
                else seal_document(keyring, v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in SCALARS or (type(v) is str and _plain(v))
                else seal_document(keyring, v) for v in value]
    return value


def open_document(keyring: Keyring, value: Any) -> Any:
    """A JSON value with every sealed string opened (leaves decided inline, as in sealing)."""
    if isinstance(value, dict):
        return {k: v if type(v) in SCALARS or (type(v) is str and not v.startswith(PREFIX))
                else open_document(keyring, v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in SCALARS or (type(v) is str and not v.startswith(PREFIX))
                else open_document(keyring, v) for v in value]
    return open_sealed(keyring, value) if is_sealed(value) else value


def key_protector(keyring: Keyring) -> Callable[[str], str]:
    """Blocking keys as stored: ID-number keys (`id:`, `id~`, `sn:`, `si:`) become their keyed
    hash (BLAKE2b keyed with a subkey of the lookup key: a record has some thirty such keys, and it
    is three times faster than HMAC-SHA256; only equality is ever asked of them). The keyed hash
    is set up once and copied for each key, which halves a key's cost."""
    keyed = hashlib.blake2b(key=_subkey(keyring.lookup_key, b"blocking keys"), digest_size=16)

    def protect(key: str) -> str:
        if key[:3] in ("id:", "id~", "sn:", "si:"):
            hasher = keyed.copy()
            hasher.update(key[3:].encode())
            return key[:3] + hasher.hexdigest()
        return key

    return protect


def resident_columns(keyring: Keyring, number: str | None
                     ) -> tuple[str | None, str | None, str | None]:
    """hub.residents' (id_number_sealed, id_number_hash, id_number_masked)."""
    if number is None:
        return None, None, None
    return seal(keyring, number), lookup_hash(keyring, number), mask(number)


@lru_cache(maxsize=64)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(_subkey(key, b"seal"))


@lru_cache(maxsize=64)
def _subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"sanwang id " + purpose, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
