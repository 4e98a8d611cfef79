"""The query API's Prometheus metrics (served at the API's own /metrics)."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "sanwang_api_requests_total", "API requests by route and status", ["route", "status"])
REQUEST_SECONDS = Histogram(
    "sanwang_api_request_seconds", "API request duration by route", ["route"])
