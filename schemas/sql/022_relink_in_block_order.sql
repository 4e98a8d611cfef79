-- Records queued to be linked again are taken in the order of their commonest blocking keys
-- (streams/relink.py): birth year, surname, pinyin, birth date. A batch then holds whole blocks,
-- so its records find one another rather than thousands of records outside it (at 200,000
-- persons, 25 candidate records a record in ref order, most of the relink's time).
ALTER TABLE hub.relink_pending ADD COLUMN block text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX relink_pending_block ON hub.relink_pending (block, ref);
