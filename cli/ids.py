"""`sanwang ids add-key | rekey`: rotate the key that seals ID numbers in the store."""

from __future__ import annotations

import argparse
import sys

from deploy import id_keys, postgres
from deploy.settings import HubSettings


def add_ids_parser(commands: argparse._SubParsersAction) -> None:
    ids = commands.add_parser(
        "ids", help="the keys that seal ID numbers: rotate them",
        description="ID numbers are sealed in the store (AES-GCM) under the keyring's current "
        "key. A rotation: `add-key`, restart every hub process, `rekey` (see "
        "deploy/DEPLOYING.md).")
    actions = ids.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("add-key", help="add a fresh current key to the keyring",
                           description="Add a new key and make it current; older keys stay to "
                           "open what they sealed (without a keyring: create one). With "
                           "SANWANG_ID_KEYRING set, prints the new keyring for your secret "
                           "store instead of writing the file.")
    p.set_defaults(run=_add_key)
    p = actions.add_parser("rekey", help="seal every ID number again under the current key",
                           description="Rewrite every sealed value (and any left in clear by a "
                           "store before migration 008) under the current key; prints the rows "
                           "rewritten per table. Workers may keep running.")
    p.set_defaults(run=_rekey)


def _add_key(args: argparse.Namespace, settings: HubSettings) -> int:
    from streams.id_protection import keyring_to_json, new_keyring, with_new_key

    try:
        keyring = with_new_key(id_keys.load_keyring(settings))
    except id_keys.KeyringMissing:
        keyring = new_keyring()  # the first key of an external deployment
    if settings.id_keyring.get_secret_value():
        print(keyring_to_json(keyring))
    else:
        id_keys.write_keyring(id_keys.keyring_path(settings), keyring)
        print(f"key {keyring.current} is now current in {id_keys.keyring_path(settings)}; "
              "restart the hub's processes, then run `sanwang ids rekey`", file=sys.stderr)
    return 0


def _rekey(args: argparse.Namespace, settings: HubSettings) -> int:
    from streams.id_rekey import rekey_store

    keyring = id_keys.load_keyring(settings)
    conn = postgres.connect(postgres.dsn(settings))
    try:
        counts = rekey_store(conn, keyring)
    finally:
        conn.close()
    for table, rows in counts.items():
        print(f"{table}: {rows} rows sealed again under key {keyring.current}")
    return 0
