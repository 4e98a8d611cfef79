"""`sanwang rebuild`: the store derived again from the landed events is the one the merge left,
residents keep their ids, events landed in the old form are sealed again in the new one."""

from __future__ import annotations

import subprocess
import sys

import psycopg2

from deploy import postgres
from deploy.id_keys import process_keyring
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from streams import id_protection as ids
from streams.json_text import json_text
from streams.landing import HubStore
from tests.integration.conftest import hub_settings, landed_events, query
from tests.integration.store_runs import apply, snapshot
from tests.samples import sample_events

DERIVED = ("source_records", "record_keys", "match_edges", "source_links", "residents",
           "golden_values", "resident_findings", "merge_rechecks", "record_relations")


def test_a_rebuild_derives_the_same_store_keeps_resident_ids_and_reseals_old_events(
        stack: HubSettings) -> None:
    settings = hub_settings(stack)
    store = HubStore(postgres.dsn(settings, "sanwang_processor"))
    apply(store, list(sample_events()))
    store.close()
    merged, links = snapshot(settings), set(query(settings, "SELECT ref, resident_id"
                                                            " FROM hub.source_links"))
    keyring = process_keyring()
    old_form = sorted(landed_events(settings))[:50]
    conn = psycopg2.connect(postgres.dsn(settings))
    with conn, conn.cursor() as cur:  # what migration 013 leaves behind, and events of before
        cur.execute("CREATE TABLE hub.source_links_v1 AS"
                    " SELECT ref, resident_id FROM hub.source_links")
        cur.execute("TRUNCATE " + ", ".join(f"hub.{t}" for t in DERIVED))
        cur.execute("DELETE FROM hub.conflicts WHERE status = 'open'")
        cur.execute("DELETE FROM hub.review_queue WHERE status = 'open'")
        events = landed_events(settings)
        for event_id in old_form:
            cur.execute("UPDATE hub.events SET payload = NULL, payload_v1 = %s::jsonb"
                        " WHERE event_id = %s",
                        (json_text(ids.seal_document(keyring, events[event_id])), event_id))
    conn.close()
    before = query(settings, "SELECT count(*) FROM hub.change_outbox WHERE sent_at IS NULL")
    done = subprocess.run([sys.executable, "-m", "cli.main", "rebuild", "--no-progress"],
                          env=settings_env(settings), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"from {len(events)} landed events" in done.stdout
    assert snapshot(settings) == merged
    assert set(query(settings, "SELECT ref, resident_id FROM hub.source_links")) == links
    assert query(settings, "SELECT count(*) FROM hub.events WHERE payload_v1 IS NOT NULL"
                           " OR payload IS NULL") == [(0,)]
    assert landed_events(settings) == events
    assert query(settings, "SELECT count(*) FROM hub.change_outbox WHERE sent_at IS NULL"
                 ) == before
    assert query(settings, "SELECT to_regclass('hub.source_links_v1')") == [(None,)]
