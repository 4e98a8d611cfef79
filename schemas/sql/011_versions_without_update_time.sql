-- A record's version orders its corrections: the department's update time (its live table's
-- update column), then the event id (streams/features.py, record_version). A version without an
-- update time (an export row, a file drop) began with '|', which sorts after every digit, so a row
-- first taken from the export kept that version against every correction the CDC stream sent
-- later. Such versions now begin with a time before any: '0000-00-00 00:00:00+00|'.
-- A correction a store dropped that way before this migration stays dropped (its event is
-- landed, so sending it again changes nothing); the department system's next update of the
-- row (a newer update time) replaces it.
UPDATE hub.source_records
   SET version = '0000-00-00 00:00:00+00' || version,
       features = jsonb_set(features, '{version}', to_jsonb('0000-00-00 00:00:00+00' || version))
 WHERE version LIKE '|%';
