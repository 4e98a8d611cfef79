-- Parameters switched while a backlog waited to be merged queue nothing: linking every record
-- again is owed to the first estimate made without one (streams/reestimate.py). A backfill's
-- growth estimate once queued the store, and the estimate that followed the backlog queued it
-- all again: the store settled in 197 to 203 s instead of 73 to 82 (bench/README.md).
ALTER TABLE hub.match_parameters ADD COLUMN relink_owed boolean NOT NULL DEFAULT false;
