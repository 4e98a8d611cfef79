-- Provisional landing table: each canonical event once, by its deterministic id.
-- The merge (identity resolution, golden records) builds on it in later migrations.
CREATE TABLE hub.events (
    event_id     text PRIMARY KEY,
    source       text NOT NULL,
    record_id    text NOT NULL,
    event_type   text NOT NULL,
    occurred_at  text,
    payload      jsonb NOT NULL,
    topic        text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_source_record ON hub.events (source, record_id);
