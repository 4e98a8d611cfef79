-- How long the last indicator refresh took (streams/indicator_store.py): a processor waits ten
-- times that before the next, so refreshing, which reads every resident, takes at most a tenth
-- of a worker's time whatever the store's size (at 200,000 persons a refresh took 109 s).
ALTER TABLE hub.indicator_refresh ADD COLUMN seconds double precision NOT NULL DEFAULT 0;
