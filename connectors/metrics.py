"""The connectors' Prometheus metrics (served by `sanwang connect` on the connectors' port)."""

from prometheus_client import Counter, Gauge

RECORDS_READ = Counter(
    "sanwang_connector_records_read_total", "Records read from a department source", ["department"])
RECORDS_PUBLISHED = Counter(
    "sanwang_connector_records_published_total",
    "Canonical events the broker acknowledged", ["department"])
RECORDS_DEAD_LETTERED = Counter(
    "sanwang_connector_records_dead_lettered_total",
    "Records sent to the dead-letter topic, by reason", ["department", "reason"])
LIVE_LAG_SECONDS = Gauge(
    "sanwang_connector_live_lag_seconds",
    "Seconds from a record's change in the department's system to its publication",
    ["department"])
