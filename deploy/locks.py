"""PostgreSQL advisory lock keys, all in one place so that two jobs never share one by accident
(the indicator refresh once took the merge's key, and every merge waited while it ran)."""

MIGRATION_LOCK = 7_303_240_001  # two `up`s at once apply each file once
# Merges take it shared, so workers merge side by side; a steward's decision, a rekey, a rebuild
# and a switch of the matching parameters take it exclusive and run alone.
MERGE_LOCK = 7_303_240_002
INDICATOR_REFRESH_LOCK = 7_303_240_003  # one indicator refresh at a time
REESTIMATE_LOCK = 7_303_240_004  # one worker at a time re-estimates the matching parameters
# one worker at a time relays the change feed's outbox: two at once sent most entries twice
CHANGE_RELAY_LOCK = 7_303_240_005
