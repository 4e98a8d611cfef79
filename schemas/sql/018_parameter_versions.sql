-- Matching parameters re-estimated as the store grows (streams/reestimate.py): each switch is a
-- new version, which every processor picks up at its next batch, and every record stored
-- before it is queued to be linked again with the new parameters (streams/relink.py), so that
-- the store ends as a clean run with them would leave it.
ALTER TABLE hub.match_parameters
    ADD COLUMN version     bigint NOT NULL DEFAULT 1,
    ADD COLUMN records     bigint,   -- how many records they were estimated from
    ADD COLUMN events_seen bigint;   -- how many events had landed then

CREATE TABLE hub.relink_pending (
    ref text PRIMARY KEY   -- a record to link again with the current parameters
);
