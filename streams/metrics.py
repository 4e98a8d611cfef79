"""The processor's Prometheus metrics (served on the processor's metrics port)."""

from prometheus_client import Counter

EVENTS_CONSUMED = Counter(
    "sanwang_processor_events_consumed_total", "Events read from a topic", ["topic"])
EVENTS_STORED = Counter(
    "sanwang_processor_events_stored_total", "Events newly stored (duplicates excluded)",
    ["department"])
MATCH_OUTCOMES = Counter(
    "sanwang_processor_match_outcomes_total",
    "Records (re)linked to a resident, by the rule that linked them (new: no match)", ["rule"])
RESIDENT_CHANGES = Counter(
    "sanwang_processor_resident_changes_total",
    "Residents created, updated, merged, split or removed", ["change"])
