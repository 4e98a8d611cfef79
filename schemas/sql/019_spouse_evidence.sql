-- The spouse a record names, as matching evidence (streams/spouses.py): the numbers sealed as
-- one text ("n1,n2"), NULL when it names none. Records stored before this migration name none
-- until linked again: run `sanwang rebuild` to give their evidence to every stored record.
ALTER TABLE hub.source_records ADD COLUMN spouses_sealed text;
