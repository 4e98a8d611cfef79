-- Two kinds of blocking key became one-sided (streams/matching.py, keys_of), so the many common
-- records are no longer stored under keys only rare ones look up:
-- - a trusted ID number (valid, agreeing with its record) is not stored under its 18
--   one-deletion variants (`id~`) any more: it looks them up, and only numbers the matcher
--   does not trust are stored under them;
-- - surname with birth month (`bm`), stored for every record, became surname with whole birth
--   date (`bd`); a partial date is stored under `bp` and looks up the month's `bm`, which only
--   whole dates keep.
-- Features hold name and birth date in clear (only ID numbers are sealed), so the keys are
-- rewritten here; nothing else changes.
DELETE FROM hub.record_keys k
 USING hub.source_records s
 WHERE k.ref = s.ref
   AND k.key LIKE 'id~%'
   AND s.features ->> 'id_number' IS NOT NULL
   AND NOT (s.features ->> 'id_suspect')::boolean;

UPDATE hub.record_keys k
   SET key = 'bp:' || substr(k.key, 4)
  FROM hub.source_records s
 WHERE k.ref = s.ref
   AND k.key LIKE 'bm:%'
   AND length(s.features ->> 'birth') = 7;

INSERT INTO hub.record_keys (key, ref)
SELECT 'bd:' || (features ->> 'birth') || '|' || left(features ->> 'name', 1), ref
  FROM hub.source_records
 WHERE length(features ->> 'birth') = 10
   AND coalesce(features ->> 'name', '') <> '';
