"""The Grafana dashboards (deploy/grafana) query only series the hub exports, and Grafana's
provisioning files load them from where they are."""

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

import api.metrics
import connectors.metrics
import streams.metrics
from deploy import prometheus
from deploy.settings import HubSettings

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "sanwang.yaml"
EXPECTED_DASHBOARDS = {"ops-overview.json", "connectors.json", "merge-quality.json",
                       "findings.json"}
PANEL_TYPES = {"timeseries", "stat", "row"}
DATASOURCE_REF = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
PROMETHEUS_OWN = {"up"}  # written by Prometheus itself for every scrape target
HUB_METRIC_MODULES = (streams.metrics, connectors.metrics, api.metrics)


# -- the series the hub exports ---------------------------------------------------------------

_TWINS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram, "summary": Summary}


def _exposed_names(family: Metric) -> set[str]:
    """The sample names prometheus_client exposes for a family. A labelled metric has no
    sample before its first `labels()`, so a label-free twin of the same type in a private
    registry supplies them (counter `x` -> `x_total`, `x_created`; histogram -> `_bucket`,
    `_count`, `_sum`, `_created`; gauge -> its name), with the real family's samples."""
    registry = CollectorRegistry()
    _TWINS[family.type](family.name, family.documentation, registry=registry)
    twin = {sample.name for twin_family in registry.collect() for sample in twin_family.samples}
    return twin | {sample.name for sample in family.samples}


@functools.cache
def hub_families() -> dict[str, frozenset[str]]:
    """Family name -> exposed sample names, for every metric the hub's metrics modules define,
    read from the default REGISTRY (the one each process serves on /metrics)."""
    declared = {family.name for module in HUB_METRIC_MODULES for value in vars(module).values()
                if isinstance(value, MetricWrapperBase) for family in value.describe()}
    families = {family.name: frozenset(_exposed_names(family))
                for family in REGISTRY.collect() if family.name in declared}
    assert families.keys() == declared, f"not in REGISTRY: {sorted(declared - families.keys())}"
    return families


@functools.cache
def exported_series() -> frozenset[str]:
    return frozenset(PROMETHEUS_OWN.union(*hub_families().values()))


# -- the series an expression selects ---------------------------------------------------------

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][\w:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "atan2", "inf", "nan"}
_SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def series_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers followed by `{` or `[` or standing
    alone as a series; not functions or aggregations (followed by `(`), keywords, label names
    (in matchers and grouping lists), string literals, durations or Grafana variables."""
    text = _STRINGS.sub('""', expr)
    text = _GRAFANA_VARIABLES.sub(" ", text)
    text = _MATCHERS.sub("{}", text)
    text = _RANGES.sub("[]", text)
    text = _GROUPING.sub(" ", text)
    return {match.group() for match in _IDENTIFIER.finditer(text)
            if match.group() not in _KEYWORDS and not text[match.end():].lstrip().startswith("(")}


def _hint(name: str) -> str:
    """What the family a wrong name was probably meant for really exposes."""
    families = hub_families()
    for family in [name] + [name.removesuffix(s) for s in _SUFFIXES if name.endswith(s)]:
        if family in families:
            return f" ({family} exposes {', '.join(sorted(families[family]))})"
    return ""


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def unknown_series(board: dict[str, Any]) -> list[str]:
    """One line per series a panel queries that the hub does not export."""
    known = exported_series()
    return [f"{board.get('title')!r} / {panel.get('title')!r}: {name}{_hint(name)}"
            for panel in panels(board) for target in panel.get("targets", [])
            for name in sorted(series_in(target.get("expr", ""))) if name not in known]


# -- the dashboards ---------------------------------------------------------------------------

DASHBOARD_FILES = sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_dashboards_folder_holds_the_dashboards() -> None:
    assert {path.name for path in DASHBOARD_FILES} == EXPECTED_DASHBOARDS


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [load(path) for path in DASHBOARD_FILES]
    assert len({board["uid"] for board in boards}) == len(boards)
    assert len({board["title"] for board in boards}) == len(boards)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.stem)
def test_dashboard_is_well_formed(path: Path) -> None:
    board = load(path)
    assert board["schemaVersion"] >= 39 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    every = list(panels(board))
    assert every
    ids = [panel["id"] for panel in every]
    titles = [panel["title"] for panel in every]
    assert len(set(ids)) == len(ids), f"duplicate panel ids: {ids}"
    assert len(set(titles)) == len(titles), f"duplicate panel titles: {titles}"
    for panel in every:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["title"].strip() and panel.get("description", "").strip(), panel["title"]
        assert 0 < panel["gridPos"]["w"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        targets = panel["targets"]
        assert targets, panel["title"]
        assert len({target["refId"] for target in targets}) == len(targets), panel["title"]
        for target in targets:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
            assert series_in(target["expr"]), f"{panel['title']}: no series in {target['expr']}"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.stem)
def test_dashboard_queries_only_series_the_hub_exports(path: Path) -> None:
    assert unknown_series(load(path)) == []


def test_a_dashboard_naming_an_unknown_metric_fails() -> None:
    board = {"title": "made up", "panels": [
        {"id": 1, "type": "timeseries", "title": "fine",
         "targets": [{"refId": "A", "expr": "sum(rate(sanwang_api_requests_total[5m]))"}]},
        {"id": 2, "type": "row", "title": "collapsed", "panels": [
            {"id": 3, "type": "stat", "title": "bogus", "targets": [
                {"refId": "A", "expr": "sum(rate(sanwang_processor_made_up_total[5m]))"}]}]},
    ]}
    assert unknown_series(board) == ["'made up' / 'bogus': sanwang_processor_made_up_total"]


@pytest.mark.parametrize("expr", [
    "sanwang_processor_batch_seconds_bucket",
    "sanwang_processor_batch_seconds_count",
    "sanwang_processor_batch_seconds_sum",
    "sanwang_processor_events_consumed_total",
    "sanwang_api_request_seconds_bucket",
    "sanwang_store_residents",
    "sanwang_connector_live_lag_seconds",
    "up",
])
def test_exposed_names_follow_prometheus_client(expr: str) -> None:
    assert series_in(expr) <= exported_series()


@pytest.mark.parametrize("name", [
    "sanwang_processor_events_consumed",  # a counter is exposed as _total (and _created)
    "sanwang_processor_latency_seconds",  # a histogram only as _bucket, _count, _sum
    "sanwang_store_residents_total",  # a gauge has no suffix
    "sanwang_store_findings_bucket",
    "sanwang_connector_records_read_total_total",
])
def test_wrong_suffixes_are_unknown(name: str) -> None:
    board = {"title": "t", "panels": [{"title": "p", "targets": [{"expr": f"sum({name})"}]}]}
    [problem] = unknown_series(board)
    assert problem.startswith(f"'t' / 'p': {name}")


def test_a_wrong_suffix_names_what_the_family_exposes() -> None:
    board = {"title": "t", "panels": [
        {"title": "p", "targets": [{"expr": "sanwang_processor_events_consumed"}]}]}
    assert unknown_series(board) == [
        "'t' / 'p': sanwang_processor_events_consumed (sanwang_processor_events_consumed "
        "exposes sanwang_processor_events_consumed_created, "
        "sanwang_processor_events_consumed_total)"]


@pytest.mark.parametrize(("expr", "series"), [
    ('sum by (department, reason) (rate(sanwang_connector_records_dead_lettered_total'
     '{department=~"$department|police", reason!="a{b}[c]"}[$__rate_interval]))',
     {"sanwang_connector_records_dead_lettered_total"}),
    ("histogram_quantile(0.99, sum by (le) (rate(sanwang_processor_batch_seconds_bucket[5m])))",
     {"sanwang_processor_batch_seconds_bucket"}),
    ("(sum(increase(a_total[$__range])) or vector(0)) + on (job) group_left b offset 5m",
     {"a_total", "b"}),
    ("max by (topic, partition) (c) > bool 1e3 unless d:recorded", {"c", "d:recorded"}),
    ("sum(rate(x[${__interval}])) * 3600", {"x"}),
])
def test_series_are_parsed_from_promql(expr: str, series: set[str]) -> None:
    assert series_in(expr) == series


# -- provisioning -----------------------------------------------------------------------------

def _yaml_values(path: Path, key: str) -> list[str]:
    """Scalar values of `key` in a provisioning file. The hub does not depend on a YAML
    parser, and these files are flat: one `key: value` a line, `#` comments."""
    pattern = re.compile(rf"^\s*(?:-\s+)?{key}:\s*(.*?)\s*(?:\s#.*)?$", re.MULTILINE)
    return [value.strip("'\"") for value in pattern.findall(path.read_text(encoding="utf-8"))]


def test_dashboard_provider_points_at_the_dashboards_folder() -> None:
    assert _yaml_values(PROVIDERS, "apiVersion") == ["1"]
    assert _yaml_values(PROVIDERS, "type") == ["file"]
    [path] = _yaml_values(PROVIDERS, "path")
    # Grafana expands ${SANWANG_REPO} (the checkout) from its environment
    assert path.startswith("${SANWANG_REPO}/")
    folder = Path(path.replace("${SANWANG_REPO}", str(REPO), 1)).resolve()
    assert folder == DASHBOARDS.resolve()
    assert {p.name for p in folder.glob("*.json")} == EXPECTED_DASHBOARDS


def test_datasource_is_the_hubs_prometheus_the_dashboards_select() -> None:
    assert _yaml_values(DATASOURCES, "apiVersion") == ["1"]
    assert _yaml_values(DATASOURCES, "type") == ["prometheus"]
    # Grafana expands it from its environment: the containers' Prometheus in deploy/compose and
    # deploy/k8s (test_deploy_manifests.py), the local stack's in the example beside it
    assert _yaml_values(DATASOURCES, "url") == ["${SANWANG_PROMETHEUS_URL}"]
    local = prometheus.endpoint(HubSettings(
        prometheus_port=HubSettings.model_fields["prometheus_port"].default))
    assert re.findall(r"SANWANG_PROMETHEUS_URL=(\S+)", PROVIDERS.read_text()) == [local]
    [uid] = _yaml_values(DATASOURCES, "uid")
    for path in DASHBOARD_FILES:
        [variable] = [v for v in load(path)["templating"]["list"] if v["name"] == "DS_PROMETHEUS"]
        assert variable["current"]["value"] == uid, path.name
    scrape = re.search(r"scrape_interval: (\S+)", prometheus.scrape_config(HubSettings()))
    assert scrape and _yaml_values(DATASOURCES, "timeInterval") == [scrape.group(1)]
