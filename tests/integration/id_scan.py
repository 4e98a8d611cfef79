"""Every ID number (check character and birth date right) a database holds in clear, in any
table's text."""

from __future__ import annotations

import re
import unicodedata

from deploy.settings import HubSettings
from tests import id_leaks as leaks
from tests.integration.conftest import query

SEALED_KEY_ID = re.compile(r"enc:v1:([A-Za-z0-9_-]+):")
TEXT_TYPES = ("text", "character varying", "jsonb", "json", "ARRAY")


def id_numbers_in(text: str) -> set[str]:
    """Numbers that could be someone's (check character and birth date right), full-width too:
    a keyed hash's hex may hold 18 digits with a right check character, but no real date."""
    return set(leaks.id_numbers_in(unicodedata.normalize("NFKC", text).upper()))


def dump(settings: HubSettings) -> dict[str, str]:
    """`schema.table.column` -> all its values as text, for every table outside the catalogs."""
    columns = query(settings, """
        SELECT c.table_schema, c.table_name, c.column_name
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE t.table_type = 'BASE TABLE' AND c.data_type = ANY(%s)
           AND c.table_schema NOT IN ('pg_catalog', 'information_schema')""", (list(TEXT_TYPES),))
    return {f"{s}.{t}.{c}": "\n".join(v for (v,) in query(
                settings, f'SELECT "{c}"::text FROM "{s}"."{t}" WHERE "{c}" IS NOT NULL'))
            for s, t, c in columns}


def clear_id_numbers_in_store(settings: HubSettings) -> dict[str, set[str]]:
    return {column: found for column, text in dump(settings).items()
            if (found := id_numbers_in(text))}


def sealing_key_ids(settings: HubSettings) -> set[str]:
    return {k for text in dump(settings).values() for k in SEALED_KEY_ID.findall(text)}
