"""The processor's Prometheus metrics (served on the processor's metrics port)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "sanwang_processor_events_consumed_total", "Events read from a topic", ["topic"])
EVENTS_PRODUCED = Counter(
    "sanwang_processor_events_produced_total",
    "Messages the processor published (change feed, findings, dead letters)", ["topic"])
EVENTS_STORED = Counter(
    "sanwang_processor_events_stored_total", "Events newly stored (duplicates excluded)",
    ["department"])
MATCH_OUTCOMES = Counter(
    "sanwang_processor_match_outcomes_total",
    "Records (re)linked to a resident, by the rule that linked them (new: no match)", ["rule"])
RESIDENT_CHANGES = Counter(
    "sanwang_processor_resident_changes_total",
    "Residents created, updated, merged, split or removed", ["change"])
DEAD_LETTERED = Counter(
    "sanwang_processor_dead_lettered_total", "Messages the processor dead-lettered", ["reason"])
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400)
LATENCY = Histogram(
    "sanwang_processor_latency_seconds",
    "From publication (Kafka timestamp), or from the change in the department's system (live "
    "sources), to merged in the store", ["stage"], buckets=LATENCY_BUCKETS)
BATCH_RETRIES = Counter(
    "sanwang_processor_batch_retries_total",
    "Transactions rolled back and run again (deadlock: two workers waited on each other)",
    ["reason"])
RECHECKS = Counter(
    "sanwang_processor_merge_rechecks_total",
    "Merges looked at again once committed: nothing_unseen, or merged_again (a concurrent merge"
    " stored records they should have met)",
    ["outcome"])
BATCH_SECONDS = Histogram(
    "sanwang_processor_batch_seconds",
    "Landing and merging one batch (one transaction), and the rechecks run after it")
BATCH_CPU_SECONDS = Histogram(
    "sanwang_processor_batch_cpu_seconds",
    "The processor's own CPU (its thread's) in landing and merging one batch and its rechecks;"
    " the rest of sanwang_processor_batch_seconds waited: for PostgreSQL, for other workers'"
    " locks, for a core or the process's other threads")
CONSUMER_LAG = Gauge(
    "sanwang_processor_consumer_lag", "Events not yet merged, per raw topic partition",
    ["topic", "partition"])
OPEN_CONFLICTS = Gauge("sanwang_store_open_conflicts", "Open conflicts for data stewards")
REVIEW_QUEUE = Gauge("sanwang_store_review_queue", "Possible matches waiting for review")
FINDINGS = Gauge("sanwang_store_findings", "Current cross-department findings", ["kind"])
RESIDENTS = Gauge("sanwang_store_residents", "Residents in the store")
OPEN_TASKS = Gauge("sanwang_store_open_tasks", "Open verification tasks (grid workers' reports to"
                   " verify), by the department that owns the fact", ["department"])
OVERDUE_TASKS = Gauge("sanwang_store_overdue_tasks", "Open verification tasks past their due"
                      " date, by the department that owns the fact", ["department"])
