-- Merges no longer lock blocking keys (streams/merge.py). Two workers' batches whose records
-- should meet may each miss the other's uncommitted records; so each merge notes, in the same
-- transaction, which records it compared and what its candidate lookups could see, and after
-- it commits it (or any worker, if it died) looks again for records written since by
-- transactions that snapshot could not see, and merges those pairs.

-- The transaction that last wrote each record's version (rows stored before this migration:
-- NULL, seen by every snapshot taken since). Every transaction a snapshot cannot see is at or
-- above its xmin, so a recheck reads only the index's newest entries.
ALTER TABLE hub.source_records ADD COLUMN writer xid8;
CREATE INDEX source_records_writer ON hub.source_records (writer);

CREATE TABLE hub.merge_rechecks (
    recheck_id bigserial PRIMARY KEY,
    writer     xid8 NOT NULL,            -- the merge's own transaction
    snapshot   pg_snapshot NOT NULL,     -- taken before its candidate lookups
    refs       text[] NOT NULL           -- the records whose edges it computed
);
