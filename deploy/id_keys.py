"""Where the ID-number keyring comes from, and the one each process uses.

`SANWANG_ID_KEYRING` carries the keyring itself (from a secret manager); otherwise it is read
from `SANWANG_ID_KEYRING_FILE`, by default `$SANWANG_HOME/secrets/id-keyring.json`, which
`sanwang up` creates for a local stack (mode 600), as it does the database passwords.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploy.errors import KeyringError
from deploy.settings import HubSettings
from streams.id_protection import Keyring, keyring_from_json, keyring_to_json, new_keyring

_process_keyring: Keyring | None = None


class KeyringMissing(KeyringError):
    """No keyring configured: nothing may be stored or read, rather than stored in clear."""


def keyring_path(settings: HubSettings) -> Path:
    if settings.id_keyring_file:
        return Path(settings.id_keyring_file)
    return settings.home.resolve() / "secrets" / "id-keyring.json"


def load_keyring(settings: HubSettings) -> Keyring:
    carried = settings.id_keyring.get_secret_value()
    if carried:
        return keyring_from_json(carried)
    path = keyring_path(settings)
    if not path.exists():
        raise KeyringMissing(f"no ID-number keyring at {path}: run `sanwang up` (local stack) or "
                             "set SANWANG_ID_KEYRING / SANWANG_ID_KEYRING_FILE")
    return keyring_from_json(path.read_text())


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Replace the file atomically, never readable by others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(keyring_to_json(keyring))
    partial.chmod(0o600)
    partial.replace(path)


def ensure_keyring_file(settings: HubSettings) -> bool:
    """Create the keyring file unless one is configured or exists; True if this call did."""
    path = keyring_path(settings)
    if settings.id_keyring.get_secret_value() or path.exists():
        return False
    write_keyring(path, new_keyring())
    return True


def install(keyring: Keyring) -> None:
    """Make `keyring` the process's (tests and embedders; processes otherwise load their own)."""
    global _process_keyring
    _process_keyring = keyring


def process_keyring() -> Keyring:
    """The keyring the store's reads and writes use, loaded once from the environment."""
    if _process_keyring is None:
        install(load_keyring(HubSettings()))
    assert _process_keyring is not None
    return _process_keyring
