"""The processor's Prometheus metrics (served on the processor's metrics port)."""

from prometheus_client import Counter

EVENTS_CONSUMED = Counter(
    "sanwang_processor_events_consumed_total", "Events read from a topic", ["topic"])
EVENTS_STORED = Counter(
    "sanwang_processor_events_stored_total", "Events newly stored (duplicates excluded)",
    ["department"])
