-- The merge's component walk (streams/record_store.py: component) and its steward lookups
-- find a record's confirmations by either side of the pair, at every step of the walk: without
-- these each lookup read every decision stewards ever made.
CREATE INDEX steward_decisions_a ON hub.steward_decisions (a);
CREATE INDEX steward_decisions_b ON hub.steward_decisions (b);
