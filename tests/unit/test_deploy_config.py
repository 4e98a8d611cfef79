"""The generated service configurations say what the settings say."""

from pathlib import Path

import yaml
from kafka.admin import ACLOperation

from cli.main import build_parser
from deploy import kafka_acls, kafka_broker, metrics_targets, prometheus
from deploy.private_stack import settings_env
from deploy.settings import HubSettings
from schemas.departments import all_departments
from schemas.topics import all_topics, changes_topic, dead_letter_topic, raw_topic


def test_broker_config_is_single_node_kraft_on_loopback(tmp_path: Path) -> None:
    settings = HubSettings(kafka_port=1234, kafka_controller_port=1235)
    text = kafka_broker._server_properties(settings, tmp_path)
    lines = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert lines["process.roles"] == "broker,controller"
    assert lines["auto.create.topics.enable"] == "false"
    assert lines["log.dirs"] == str(tmp_path)


def test_local_broker_authenticates_and_authorizes_every_client() -> None:
    settings = HubSettings(kafka_port=1234, kafka_controller_port=1235)
    text = kafka_broker._security_properties(settings, "pw")
    lines = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert lines["listeners"] == "BROKER://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert lines["listener.security.protocol.map"] == (
        "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT")
    assert lines["sasl.enabled.mechanisms"] == "SCRAM-SHA-256"
    assert lines["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert lines["allow.everyone.if.no.acl.found"] == "false"
    assert lines["super.users"] == "User:admin"


def test_pom_asks_for_the_version_the_code_expects() -> None:
    pom = (Path(kafka_broker.__file__).parent / "kafka" / "pom.xml").read_text()
    assert f"<kafka.version>{kafka_broker.KAFKA_VERSION}</kafka.version>" in pom
    assert "<artifactId>kafka_2.13</artifactId>" in pom


def test_prometheus_finds_every_hub_process_by_its_target_file(tmp_path: Path) -> None:
    config = yaml.safe_load(prometheus.scrape_config(HubSettings(home=tmp_path)))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", *metrics_targets.JOBS}
    for job in metrics_targets.JOBS:
        files = jobs[job]["file_sd_configs"][0]["files"]
        assert files == [f"{tmp_path.resolve()}/prometheus/targets/{job}-*.json"]


def test_external_services_are_used_when_configured() -> None:
    settings = HubSettings(kafka_bootstrap="kafka.example:9092",
                           database_url="postgresql://u@db.example/hub")
    assert settings.external_kafka and settings.external_database
    assert settings.bootstrap_servers == "kafka.example:9092"
    local = HubSettings(kafka_bootstrap="", database_url="")
    assert not local.external_kafka and local.bootstrap_servers == "127.0.0.1:19092"


def test_topic_names_come_from_one_prefix() -> None:
    assert raw_topic("p", "police") == "p.raw.police"
    # + dead letters, changes, findings
    assert len(set(all_topics("p"))) == len(all_departments()) + 3


def test_every_command_explains_itself() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for command in ("up", "down", "status", "connect", "process", "wait"):
        assert command in help_text


def test_a_department_writes_only_its_own_raw_topic_and_the_dead_letters() -> None:
    acls = kafka_acls.department_acls("p", "police")
    assert {a.principal for a in acls} == {"User:police"}
    writes = {a.resource_pattern.resource_name for a in acls
              if a.operation == ACLOperation.WRITE}
    assert writes == {raw_topic("p", "police"), dead_letter_topic("p")}
    reads = {a.resource_pattern.resource_name for a in acls if a.operation == ACLOperation.READ}
    assert reads == {changes_topic("p"), "p-police"}  # the change feed, in its own groups


def test_subprocesses_get_only_the_settings_that_were_set(monkeypatch) -> None:
    """A metrics port left to its default stays one in the demo's connectors, so each finds a
    free port instead of failing on one it was "given"."""
    monkeypatch.delenv("SANWANG_CONNECTOR_METRICS_PORT", raising=False)
    env = settings_env(HubSettings(home=Path("/tmp/h"), push_port=1234))
    assert env["SANWANG_PUSH_PORT"] == "1234" and env["SANWANG_HOME"] == "/tmp/h"
    assert "SANWANG_CONNECTOR_METRICS_PORT" not in env
    given = settings_env(HubSettings(connector_metrics_port=4321))
    assert given["SANWANG_CONNECTOR_METRICS_PORT"] == "4321"
