"""The deployment manifests say what the code says (deploy/compose, deploy/k8s, deploy/Dockerfile,
deploy/kafka/format-storage.sh).

Each check reads the parsed manifests only, so the negative tests at the end mutate a copy and
see the check fail: a manifest drifting from the code fails here, not in a cluster. The one
program run is the format script, by bash, with a stand-in for Kafka's storage tool.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import importlib
import json
import os
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from api.grid_reports import reporting_source
from cli.main import build_parser
from connectors.push_api import push_departments
from deploy import kafka_auth, kafka_broker, postgres, prometheus
from deploy.settings import HubSettings
from schemas.departments import all_departments, department
from schemas.topics import all_topics

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yaml"
K8S_DIR = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
GUIDE = DEPLOY / "DEPLOYING.md"
GRAFANA_PROVISIONING = DEPLOY / "grafana" / "provisioning"
FORMAT_STORAGE = DEPLOY / "kafka" / "format-storage.sh"

PREFIX = HubSettings.model_config["env_prefix"]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
HUB_IMAGE = f"sanwang-hub:{VERSION}"
KAFKA_IMAGE = f"apache/kafka:{kafka_broker.KAFKA_VERSION}"
NAMESPACE = "sanwang"
# Local broker properties that name addresses or paths of this machine, not configuration.
KAFKA_ADDRESS_KEYS = {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}
# KAFKA_* variables the apache/kafka image does not turn into broker properties (those we set).
KAFKA_IMAGE_VARIABLES = {"KAFKA_HEAP_OPTS"}
KAFKA_SECRET = "sanwang-kafka"  # the Kubernetes Secret of the principals' passwords, by principal
# Its key holding the push service's SANWANG_KAFKA_PASSWORDS, the JSON of the other departments'.
PUSH_PASSWORDS_KEY = "push-passwords"
# The format step's list of the principals to give credentials to, separated by spaces.
PRINCIPALS_VARIABLE = "HUB_KAFKA_PRINCIPALS"
STORAGE_TOOL = "/opt/kafka/bin/kafka-storage.sh"  # where the apache/kafka image has it
# Which `sanwang` command serves each of deploy/prometheus.py's hub jobs (`hub_jobs`).
JOB_COMMANDS = {"sanwang-processor": "process", "sanwang-connectors": "connect",
                "sanwang-api": "api"}
# Infrastructure images: one per component, the same in compose and Kubernetes.
COMPONENTS = ("kafka", "postgres", "prometheus", "grafana")


@dataclass
class Manifests:
    compose: dict[str, Any]
    k8s: list[dict[str, Any]]
    kustomization: dict[str, Any]
    format_script: str
    dockerfile: str


def _load() -> Manifests:
    docs: list[dict[str, Any]] = []
    kustomization: dict[str, Any] = {}
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            kustomization = yaml.safe_load(path.read_text())
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["__file__"] = path.name
                docs.append(doc)
    return Manifests(yaml.safe_load(COMPOSE_FILE.read_text()), docs, kustomization,
                     FORMAT_STORAGE.read_text(), DOCKERFILE.read_text())


_LOADED = _load()


@pytest.fixture
def manifests() -> Manifests:
    return copy.deepcopy(_LOADED)


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Effective settings come from the manifests only, never from this shell's environment."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)


# ---- reading the manifests -------------------------------------------------------------------

def k8s_doc(m: Manifests, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in m.k8s if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def k8s_workloads(m: Manifests) -> Iterator[dict[str, Any]]:
    yield from (d for d in m.k8s if d["kind"] in ("Deployment", "StatefulSet", "Job"))


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def k8s_containers(m: Manifests) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for workload in k8s_workloads(m):
        for container in pod_spec(workload)["containers"]:
            yield workload, container


def image_name(image: str) -> str:
    return image.rsplit(":", 1)[0].rsplit("/", 1)[-1]


def hub_k8s(m: Manifests) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(w, c) for w, c in k8s_containers(m) if image_name(c["image"]) == "sanwang-hub"]


def hub_compose(m: Manifests) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in m.compose["services"].items()
            if image_name(s.get("image", "")) == "sanwang-hub"}


def compose_argv(service: dict[str, Any]) -> list[str] | None:
    """The `sanwang` argv of a service, or None when it runs something else."""
    return None if "entrypoint" in service else [str(a) for a in service.get("command", [])]


def k8s_argv(container: dict[str, Any]) -> list[str] | None:
    return None if "command" in container else [str(a) for a in container.get("args", [])]


def compose_ports(service: dict[str, Any]) -> set[int]:
    published = {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}
    return published | {int(p) for p in service.get("expose", [])}


def k8s_ports(container: dict[str, Any]) -> set[int]:
    return {p["containerPort"] for p in container.get("ports", [])}


def configmap_env(m: Manifests) -> dict[str, str]:
    return {k: str(v) for k, v in k8s_doc(m, "ConfigMap", "sanwang-env")["data"].items()}


def k8s_env(m: Manifests, container: dict[str, Any]) -> dict[str, Any]:
    """Literal values, plus the referenced ones as ('secret'|'configmap', name, key)."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        env.update(k8s_doc(m, "ConfigMap", name)["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        else:
            ref = var["valueFrom"].get("secretKeyRef") or var["valueFrom"]["configMapKeyRef"]
            kind = "secret" if "secretKeyRef" in var["valueFrom"] else "configmap"
            env[var["name"]] = (kind, ref["name"], ref["key"])
    return env


def secret_value(m: Manifests, reference: tuple[str, str, str]) -> str:
    """The placeholder value (secret.yaml) of a Secret key a container references."""
    kind, name, key = reference
    assert kind == "secret", reference
    data = k8s_doc(m, "Secret", name)["stringData"]
    assert key in data, f"Secret {name} has no key {key}"
    return str(data[key])


def with_placeholders(m: Manifests, env: dict[str, Any]) -> dict[str, str]:
    """A Kubernetes environment (k8s_env) with each Secret's placeholder in place of its key."""
    return {k: secret_value(m, v) if isinstance(v, tuple) else v for k, v in env.items()}


def effective_settings(env: dict[str, Any]) -> HubSettings:
    """The settings a hub process gets from this environment (literal SANWANG_* values)."""
    given = {k.removeprefix(PREFIX).lower(): v for k, v in env.items()
             if k.startswith(PREFIX) and isinstance(v, str) and k != f"{PREFIX}DATABASE_URL"}
    return HubSettings(**given)


def default(field: str) -> Any:
    return HubSettings.model_fields[field].default


@functools.cache
def sanwang_parser() -> argparse.ArgumentParser:
    return build_parser()


def parse_sanwang(argv: list[str]) -> Any:
    try:
        return sanwang_parser().parse_args(argv)
    except SystemExit as error:
        raise AssertionError(f"`sanwang {' '.join(argv)}` is not a valid command") from error


def listen_address(value: str | None, default_port: int) -> tuple[str, int]:
    host, _, port = (value or f"127.0.0.1:{default_port}").rpartition(":")
    return host, int(port)


def expected_ports(argv: list[str], settings: HubSettings) -> set[int]:
    """The ports a long-running `sanwang` command serves, by the CLI's own defaults."""
    args = parse_sanwang(argv)
    if args.command == "process":
        port = settings.processor_metrics_port if args.metrics_port is None else args.metrics_port
        return {port}
    if args.command == "connect":
        assert getattr(args, "file", None) is None, f"{argv}: a backfill is a one-off job"
        ports = {settings.connector_metrics_port}
        if getattr(args, "listen", None) is not None:
            host, port = listen_address(args.listen, settings.push_port)
            assert host == "0.0.0.0", f"{argv}: 127.0.0.1 is unreachable outside the container"
            ports.add(port)
        return ports
    if args.command == "api" and args.action == "serve":
        host, port = listen_address(args.listen, settings.api_port)
        assert host == "0.0.0.0", f"{argv}: 127.0.0.1 is unreachable outside the container"
        return {port}
    raise AssertionError(f"`sanwang {' '.join(argv)}` is not a long-running service")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def prometheus_configs(m: Manifests) -> dict[str, str]:
    return {"compose": m.compose["configs"]["prometheus-config"]["content"],
            "k8s": k8s_doc(m, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]}


def initdb_scripts(m: Manifests) -> dict[str, str]:
    return {"compose": m.compose["configs"]["sanwang-initdb"]["content"],
            "k8s": k8s_doc(m, "ConfigMap", "postgres-initdb")["data"]["01-sanwang.sql"]}


def targets(job: dict[str, Any]) -> list[tuple[str, int]]:
    found = [(host, int(port)) for static in job.get("static_configs", [])
             for host, _, port in (t.rpartition(":") for t in static["targets"])]
    found += [(name, int(sd["port"])) for sd in job.get("dns_sd_configs", [])
              for name in sd["names"]]
    return found


def guide_configmaps() -> dict[str, str]:
    """ConfigMaps deploy/DEPLOYING.md makes from repository files: name -> path."""
    text = GUIDE.read_text().replace("\\\n", " ")
    return {name: path.rsplit("=", 1)[-1] for name, path in
            re.findall(r"create configmap (\S+)\s+--from-file=(\S+)", text)}


def grafana_provisioning(kind: str) -> list[dict[str, Any]]:
    """deploy/grafana/provisioning/<kind>/*.yaml, parsed."""
    return [yaml.safe_load(p.read_text()) for p in
            sorted((GRAFANA_PROVISIONING / kind).glob("*.y*ml"))]


def grafana_variables() -> set[str]:
    """SANWANG_* names Grafana's provisioning files expand: Grafana's environment, not the hub's."""
    return {name for path in GRAFANA_PROVISIONING.rglob("*.y*ml")
            for name in re.findall(r"\$\{?(SANWANG_[A-Z0-9_]+)", path.read_text())}


def grafana_envs(m: Manifests) -> dict[str, dict[str, Any]]:
    service = m.compose["services"]["grafana"]
    return {"compose": {k: str(v) for k, v in service["environment"].items()},
            "k8s": k8s_env(m, pod_spec(k8s_doc(m, "Deployment", "grafana"))["containers"][0])}


def expand(text: str, env: dict[str, Any]) -> str:
    """Grafana's $VAR / ${VAR} expansion in provisioning files."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda v: str(env.get(v[1] or v[2], "")), text)


def references(value: Any) -> Any:
    """Compose's ${NAME:-...} and Kubernetes' $(NAME) both as <NAME>; other values as they are."""
    if not isinstance(value, str):
        return value
    return re.sub(r"\$\{(\w+)[^}]*\}|\$\((\w+)\)", lambda v: f"<{v[1] or v[2]}>", value)


def kafka_variable(key: str) -> str:
    """The apache/kafka image's variable for a broker property: a.b-c_d is KAFKA_A_B___C__D."""
    return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def kafka_property(name: str) -> str:
    """How the image reads a KAFKA_* variable (kafka.docker.KafkaDockerWrapper)."""
    return (name.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-")
            .replace("..", "_"))


def password_variable(principal: str) -> str:
    """The variable holding a Kafka principal's password: compose's env file, the containers."""
    return f"HUB_KAFKA_{principal.upper()}_PASSWORD"


def local_broker_properties(settings: HubSettings) -> dict[str, str]:
    """deploy/kafka_broker.py's broker properties, the admin's password as a reference."""
    text = (kafka_broker._server_properties(settings, Path("/x"))
            + kafka_broker._security_properties(settings, f"<{password_variable('admin')}>"))
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def kafka_envs(m: Manifests) -> dict[str, dict[str, Any]]:
    """The broker container's environment in both, variables as references."""
    compose = m.compose["services"]["kafka"]["environment"]
    container = pod_spec(k8s_doc(m, "StatefulSet", "kafka"))["containers"][0]
    return {"compose": {k: references(str(v)) for k, v in compose.items()},
            "k8s": {k: references(v) for k, v in k8s_env(m, container).items()}}


def format_steps(m: Manifests) -> dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """The storage format step in both: (its container, its environment, the broker's data
    paths); compose's is a one-shot service, Kubernetes' an init container of the broker."""
    services = m.compose["services"]
    assert "kafka-format" in services, "the broker's storage is not formatted with the principals"
    compose_env = {k: references(str(v))
                   for k, v in services["kafka-format"]["environment"].items()}
    spec = pod_spec(k8s_doc(m, "StatefulSet", "kafka"))
    inits = spec.get("initContainers", [])
    assert len(inits) == 1, "the broker's storage is not formatted with the principals"
    init = inits[0]
    data = [v["mountPath"] for v in spec["containers"][0]["volumeMounts"] if v["name"] == "data"]
    compose_data = [v.split(":")[1] for v in services["kafka"]["volumes"]
                    if v.startswith("kafka-data:")]
    return {"compose": (services["kafka-format"], compose_env, compose_data),
            "k8s": (init, {k: references(v) for k, v in k8s_env(m, init).items()}, data)}


def format_credentials(script: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """(name, password) of each SCRAM credential the format script gives Kafka's storage tool
    in this environment: bash runs it with a stand-in tool that prints its arguments."""
    assert STORAGE_TOOL in script, "the script does not run the image's storage tool"
    with tempfile.TemporaryDirectory() as work:
        tool = Path(work) / "kafka-storage.sh"
        tool.write_text('#!/bin/sh\nprintf "%s\\0" "$@"\n')
        tool.chmod(0o755)
        run = subprocess.run(["bash", "-c", script.replace(STORAGE_TOOL, str(tool))],
                             env={"PATH": os.environ["PATH"], "TMPDIR": work, **env},
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, f"the format script failed: {run.stderr}"
    arguments = run.stdout.split("\0")[:-1]
    assert arguments[:2] == ["format", "--ignore-formatted"], arguments
    given = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--add-scram"]
    found = [re.fullmatch(rf"{kafka_auth.MECHANISM}=\[name=(\w+),password=(.+)\]", a)
             for a in given]
    assert all(found), given
    return [match.group(1, 2) for match in found if match]


def kafka_principal(argv: list[str] | None) -> str | None:
    """The Kafka principal a hub command talks as (deploy/kafka_auth.py): the migrate step
    (argv None) the admin, the processor its own, a connector its department's, the API the
    reporting source's (grid workers' reports, api/grid_reports.py)."""
    if argv is None:
        return kafka_auth.ADMIN
    args = parse_sanwang(argv)
    if args.command == "process":
        return kafka_auth.PROCESSOR
    if args.command == "connect":
        return department(args.department).id
    if args.command == "api" and args.action == "serve":
        return reporting_source().id
    return None


def published_as(argv: list[str] | None) -> set[str]:
    """Every principal a hub command talks as: its own (kafka_principal) and, for the push
    endpoint, every department that pushes, each publishing as itself (connectors/push_api.py)."""
    own = kafka_principal(argv)
    args = argv and parse_sanwang(argv)
    if args and args.command == "connect" and getattr(args, "listen", None) is not None:
        pushing = {d.id for d in push_departments().values()}
        assert own in pushing, f"{argv}: {own} does not push"
        return pushing
    return {own} if own else set()


def passwords_object(value: str | None) -> frozenset[str] | None:
    """The principals a SANWANG_KAFKA_PASSWORDS value names; None when it is not set."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise AssertionError(f"{PREFIX}KAFKA_PASSWORDS is no JSON: {value}") from None
    assert isinstance(parsed, dict), value
    return frozenset(parsed)


# ---- the checks ------------------------------------------------------------------------------

def check_kafka_image(m: Manifests) -> None:
    images = [m.compose["services"][name]["image"] for name in ("kafka", "kafka-format")]
    images += [c["image"] for _, c in k8s_containers(m) if image_name(c["image"]) == "kafka"]
    images += [c["image"] for c in pod_spec(k8s_doc(m, "StatefulSet", "kafka")).get(
        "initContainers", [])]
    assert len(images) == 4 and set(images) == {KAFKA_IMAGE}, images


def check_kafka_config(m: Manifests) -> None:
    """Both brokers are configured exactly as deploy/kafka_broker.py configures the local one,
    security included (SASL/SCRAM listeners, the controller's for the admin only, ACLs denying
    by default, the admin the only super user), the admin's password from its secret."""
    settings = effective_settings(configmap_env(m))
    local = local_broker_properties(settings)
    for where, env in kafka_envs(m).items():
        for key, value in local.items():
            name = kafka_variable(key)
            assert kafka_property(name) == key
            if key not in KAFKA_ADDRESS_KEYS:
                assert env.get(name) == value, f"{where} {name}={env.get(name)}, local: {value}"
        given = {kafka_property(n) for n in env if n.startswith("KAFKA_")}
        assert given - {kafka_property(n) for n in KAFKA_IMAGE_VARIABLES} == set(local), where
        assert f"-Xmx{settings.kafka_heap}" in env["KAFKA_HEAP_OPTS"]
        listeners = {kafka_property(n): env[n] for n in env if n.startswith("KAFKA_")}
        names = {u.split("://")[0] for u in local["listeners"].split(",")}
        assert {u.split("://")[0] for u in listeners["listeners"].split(",")} == names
        advertised = local["advertised.listeners"].split("://")[0]
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"{advertised}://{settings.kafka_bootstrap}"
    envs = kafka_envs(m)
    admin = password_variable(kafka_auth.ADMIN)
    assert envs["compose"].pop(admin) == f"<{admin}>"
    assert envs["k8s"].pop(admin) == ("secret", KAFKA_SECRET, kafka_auth.ADMIN)
    assert envs["compose"] == envs["k8s"], "compose and Kubernetes configure Kafka differently"
    host, _, port = settings.kafka_bootstrap.rpartition(":")
    assert int(port) in compose_ports(m.compose["services"][host])
    assert int(port) in {p["port"] for p in k8s_doc(m, "Service", host)["spec"]["ports"]}


def check_kafka_format(m: Manifests) -> None:
    """Before the broker first starts, deploy/kafka/format-storage.sh formats its storage, in
    both, with the broker's own configuration and the SCRAM credential of every principal of
    deploy/kafka_auth.py (the manifests list them in HUB_KAFKA_PRINCIPALS), each password from
    that principal's secret: the script, run on each environment, says so."""
    script = m.format_script
    formatted = dict(re.findall(r"^([a-z.]+)=\$\{(\w+)\}$", script, re.M))
    assert formatted and all(kafka_property(v) == k for k, v in formatted.items())
    broker = kafka_envs(m)
    for where, (step, env, data) in format_steps(m).items():
        assert step["image"] == KAFKA_IMAGE
        assert step["command"][0] == "bash" and len(data) == 1
        for name in set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", script)):
            assert env.get(name) == broker[where][name], f"{where} format step {name}"
        assert str(env.get(PRINCIPALS_VARIABLE)).split() == kafka_auth.principals(), (
            f"{where} format step: {PRINCIPALS_VARIABLE} is not deploy/kafka_auth.py's")
        passwords = {n for n in env if re.fullmatch(r"HUB_KAFKA_\w+_PASSWORD", n)}
        assert passwords == {password_variable(p) for p in kafka_auth.principals()}, (
            f"{where} format step: passwords {sorted(passwords)}")
        for principal in kafka_auth.principals():
            secret = (f"<{password_variable(principal)}>" if where == "compose"
                      else ("secret", KAFKA_SECRET, principal))
            assert env.get(password_variable(principal)) == secret, (where, principal)
        assert env[password_variable(kafka_auth.ADMIN)] == \
            broker[where][password_variable(kafka_auth.ADMIN)]
        given = env if where == "compose" else with_placeholders(m, env)
        expected = given if where == "compose" else {
            password_variable(p): secret_value(m, ("secret", KAFKA_SECRET, p))
            for p in kafka_auth.principals()}
        assert format_credentials(script, given) == [
            (p, expected[password_variable(p)]) for p in kafka_auth.principals()], where
        admin = kafka_auth.ADMIN  # the list is the environment's, not the script's own
        assert format_credentials(script, {**given, PRINCIPALS_VARIABLE: admin}) == [
            (admin, expected[password_variable(admin)])], "the script ignores its list"
    compose, k8s = (format_steps(m)[k][0] for k in ("compose", "k8s"))
    assert compose["command"] == k8s["command"]
    mounts = dict(v.split(":")[:2] for v in compose["volumes"])
    assert (COMPOSE_FILE.parent / next(s for s, t in mounts.items()
                                       if t == compose["command"][1])).resolve() == FORMAT_STORAGE
    assert mounts["kafka-data"] == format_steps(m)["compose"][2][0]
    assert m.compose["services"]["kafka"].get("depends_on", {}).get("kafka-format") == {
        "condition": "service_completed_successfully"}, "the broker may start unformatted"
    spec = pod_spec(k8s_doc(m, "StatefulSet", "kafka"))
    volumes = {v["name"]: v for v in spec["volumes"]}
    landed = {v["mountPath"]: v["name"] for v in k8s["volumeMounts"]}
    script_volume = volumes[landed[k8s["command"][1]]]["configMap"]["name"]
    assert REPO / guide_configmaps()[script_volume] == FORMAT_STORAGE
    assert landed[format_steps(m)["k8s"][2][0]] == "data"


def check_kafka_credentials(m: Manifests) -> None:
    """Every hub process that talks to Kafka authenticates as the principal the code uses for
    it, with that principal's password (the one the broker was formatted with), over the
    broker's listener protocol; the API the reporting source's (grid workers' reports). The push
    endpoint also holds, in SANWANG_KAFKA_PASSWORDS, exactly the passwords of the other
    departments that push, each its own: the code then publishes as each of them."""
    protocols = dict(p.split(":") for p in kafka_envs(m)["k8s"][
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    advertised = kafka_envs(m)["k8s"]["KAFKA_ADVERTISED_LISTENERS"].split("://")[0]
    shared = configmap_env(m)
    assert shared.get(f"{PREFIX}KAFKA_SECURITY_PROTOCOL") == protocols[advertised]
    Identity = tuple[Any, Any, frozenset[str] | None]
    given: dict[str, dict[str, Identity]] = {"compose": {}, "k8s": {}}
    expected: dict[str, dict[str, Identity]] = {"compose": {}, "k8s": {}}
    processes = [("compose", name, compose_argv(service),
                  {k: references(str(v)) for k, v in service["environment"].items()})
                 for name, service in hub_compose(m).items()]
    processes += [("k8s", w["metadata"]["name"], None if w["kind"] == "Job" else k8s_argv(c),
                   k8s_env(m, c)) for w, c in hub_k8s(m)]
    for where, name, argv, env in processes:
        principal = kafka_principal(argv)
        readable = env if where == "compose" else with_placeholders(m, env)
        others = frozenset(published_as(argv) - {principal})
        given[where][name] = (env.get(f"{PREFIX}KAFKA_PRINCIPAL"),
                              env.get(f"{PREFIX}KAFKA_PASSWORD"),
                              passwords_object(readable.get(f"{PREFIX}KAFKA_PASSWORDS")))
        expected[where][name] = (principal, principal and (
            f"<{password_variable(principal)}>" if where == "compose"
            else ("secret", KAFKA_SECRET, principal)), others or None)
        settings = effective_settings(readable)
        for each in published_as(argv):
            password = (f"<{password_variable(each)}>" if where == "compose"
                        else secret_value(m, ("secret", KAFKA_SECRET, each)))
            config = kafka_auth.client_config(settings, each)
            found = (config.get("sasl_plain_username"), config.get("sasl_plain_password"))
            assert found == (each, password), f"{where} {name} publishes for {each} as {found}"
            assert config.get("security_protocol") == protocols[advertised], name
    assert given == expected


def check_env_names(m: Manifests) -> None:
    """Every SANWANG_* name in the manifests is a setting of deploy/settings.py, but for those
    Grafana's provisioning files expand, and these only in Grafana's environment."""
    assert PREFIX == "SANWANG_"
    hub_side = [value for key, value in m.compose.items() if key != "services"]
    hub_side += [s for name, s in m.compose["services"].items() if name != "grafana"]
    hub_side += [d for d in m.k8s
                 if d["metadata"]["name"] != "grafana" or d["kind"] != "Deployment"]
    for text in strings(hub_side):
        for name in re.findall(r"\bSANWANG_[A-Z0-9_]+", text):
            field = name.removeprefix(PREFIX).lower()
            assert field in HubSettings.model_fields, f"{name} is no field of HubSettings"
    for env in grafana_envs(m).values():
        for name in (n for n in env if n.startswith(PREFIX)):
            assert name in grafana_variables(), f"Grafana's provisioning does not read {name}"


def check_hub_env(m: Manifests) -> None:
    """Every hub process reaches the external Kafka and PostgreSQL and holds the ID-number
    keyring (secrets, so not in the shared environment); compose = Kubernetes."""
    shared = configmap_env(m)
    for name, service in hub_compose(m).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        for secret in ("DATABASE_URL", "ID_KEYRING"):
            assert env.pop(f"{PREFIX}{secret}", None), f"compose {name} has no {PREFIX}{secret}"
        for own in ("KAFKA_PRINCIPAL", "KAFKA_PASSWORD", "KAFKA_PASSWORDS"):  # see
            # check_kafka_credentials
            env.pop(f"{PREFIX}{own}", None)
        assert env == shared, f"compose {name}'s environment differs from sanwang-env"
    for workload, container in hub_k8s(m):
        env = k8s_env(m, container)
        assert env.get(f"{PREFIX}DATABASE_URL") == ("secret", "sanwang-database", "url"), (
            f"{workload['metadata']['name']} lacks the database URL Secret")
        assert env.get(f"{PREFIX}ID_KEYRING") == ("secret", "sanwang-id-keyring", "keyring"), (
            f"{workload['metadata']['name']} lacks the ID-number keyring Secret")
        assert {k: v for k, v in env.items() if k in shared} == shared
    assert shared.get(f"{PREFIX}KAFKA_BOOTSTRAP"), "no external Kafka: processes would start one"
    assert shared.get(f"{PREFIX}HOME"), "the state directory would be relative to the image's cwd"


def check_topics(m: Manifests) -> None:
    """Prefix and partitions: explicit, valid, the broker's default, and enough for the workers."""
    env = configmap_env(m)
    settings = effective_settings(env)
    for field in ("topic_prefix", "topic_partitions"):
        assert f"{PREFIX}{field.upper()}" in env, f"say {field} explicitly"
    for topic in all_topics(settings.topic_prefix):
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,249}", topic), topic
    broker_env = m.compose["services"]["kafka"]["environment"]
    assert int(broker_env["KAFKA_NUM_PARTITIONS"]) == settings.topic_partitions
    replicas = [m.compose["services"]["processor"]["deploy"]["replicas"],
                k8s_doc(m, "Deployment", "processor")["spec"]["replicas"]]
    assert all(1 <= r <= settings.topic_partitions for r in replicas), (
        f"{replicas} processors for {settings.topic_partitions} partitions: some would idle")


def check_commands_and_ports(m: Manifests) -> None:
    """Every hub command parses with the CLI and exposes exactly the ports it serves."""
    settings = effective_settings(configmap_env(m))
    for field in ("processor_metrics_port", "connector_metrics_port", "push_port", "api_port"):
        assert getattr(settings, field) == default(field), f"{field} moved from its default"
    for name, service in hub_compose(m).items():
        argv = compose_argv(service)
        if argv is not None:
            assert compose_ports(service) == expected_ports(argv, settings), f"compose {name}"
    for workload, container in hub_k8s(m):
        argv = k8s_argv(container)
        if argv is None:
            continue
        ports = expected_ports(argv, settings)
        assert k8s_ports(container) == ports, workload["metadata"]["name"]
        service = k8s_doc(m, "Service", workload["metadata"]["name"])
        assert {p["port"] for p in service["spec"]["ports"]} == ports
        assert service["spec"].get("clusterIP") == "None", "Prometheus needs every replica's IP"


def check_prometheus(m: Manifests) -> None:
    """deploy/prometheus.py's jobs, each naming the services that run it, on its port."""
    configs = prometheus_configs(m)
    assert configs["compose"] == configs["k8s"], "compose and Kubernetes scrape differently"
    settings = effective_settings(configmap_env(m))
    local = {"prometheus": settings.prometheus_port, **prometheus.hub_jobs(settings)}
    config = yaml.safe_load(configs["k8s"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(local), f"jobs {sorted(jobs)}, deploy/prometheus.py {sorted(local)}"
    assert config.get("rule_files"), "the hub's alert rules are not loaded"
    services = m.compose["services"]
    scraped: set[str] = set()
    for name, job in jobs.items():
        if name == "prometheus":
            own = k8s_ports(pod_spec(k8s_doc(m, "Deployment", "prometheus"))["containers"][0])
            assert {port for _, port in targets(job)} == own
            assert compose_ports(services["prometheus"]) == own
            continue
        for host, port in targets(job):
            assert port == local[name], f"{name} scrapes {host}:{port}, the code says {local[name]}"
            argv = compose_argv(services[host]) or []
            assert argv[:1] == [JOB_COMMANDS[name]], f"{host} does not run {JOB_COMMANDS[name]}"
            assert port in compose_ports(services[host])
            assert port in {p["port"] for p in k8s_doc(m, "Service", host)["spec"]["ports"]}
            scraped.add(host)
    unscraped = {n for n, s in hub_compose(m).items() if compose_argv(s)} - scraped
    assert not unscraped, f"not scraped: {unscraped}"


def check_prometheus_files(m: Manifests) -> None:
    """The rule files Prometheus loads are deploy/prometheus/alerts.yml, in both deployments."""
    service = m.compose["services"]["prometheus"]
    rules = yaml.safe_load(prometheus_configs(m)["compose"])["rule_files"]
    mounts = {target: source for source, target, *_ in
              (v.split(":") for v in service["volumes"])}
    for rule in rules:
        assert (COMPOSE_FILE.parent / mounts[rule]).resolve() == prometheus.ALERT_RULES
    assert REPO / guide_configmaps()["prometheus-rules"] == prometheus.ALERT_RULES


def check_database(m: Manifests) -> None:
    """The URL names deploy/postgres.py's owner role and the settings' database on the Service."""
    settings = effective_settings(configmap_env(m))
    secret = k8s_doc(m, "Secret", "sanwang-database")["stringData"]
    url = urlsplit(secret["url"])
    container = pod_spec(k8s_doc(m, "StatefulSet", "postgres"))["containers"][0]
    assert url.scheme == "postgresql" and url.username == "sanwang_owner" in postgres.ROLES
    assert url.password == secret["owner-password"]
    assert url.path == f"/{settings.database}"
    assert url.port in k8s_ports(container)
    assert url.port in {p["port"] for p in k8s_doc(m, "Service", url.hostname)["spec"]["ports"]}
    assert k8s_env(m, container)["POSTGRES_DB"] == settings.database
    compose_url = m.compose["x-hub"]["environment"][f"{PREFIX}DATABASE_URL"]
    match = re.fullmatch(r"postgresql://sanwang_owner:\$\{(\w+)[^}]*\}@(\w+):(\d+)/(\w+)",
                         compose_url)
    assert match, compose_url
    pg = m.compose["services"]["postgres"]
    assert pg["environment"][match[1]].startswith("${" + match[1]), "another owner password"
    assert match.group(2, 3, 4) == (url.hostname, str(url.port), settings.database)
    assert pg["environment"]["POSTGRES_DB"] == settings.database


def check_initdb(m: Manifests) -> None:
    """The init script makes deploy/postgres.py's roles and hands the database to the owner."""
    scripts = initdb_scripts(m)
    assert scripts["compose"] == scripts["k8s"]
    script = scripts["k8s"]
    settings = effective_settings(configmap_env(m))
    created = dict(re.findall(r"CREATE ROLE (\w+) (NOLOGIN|LOGIN)", script))
    assert created == {**dict.fromkeys(postgres.ROLES, "LOGIN"),
                       **dict.fromkeys(postgres.GROUP_ROLES, "NOLOGIN")}
    assert f"ALTER DATABASE {settings.database} OWNER TO sanwang_owner;" in script
    assert "CREATE SCHEMA hub AUTHORIZATION sanwang_owner;" in script
    needed = set(re.findall(r"\\getenv \w+ (\w+)", script))
    container = pod_spec(k8s_doc(m, "StatefulSet", "postgres"))["containers"][0]
    assert needed <= set(k8s_env(m, container))
    assert needed <= set(m.compose["services"]["postgres"]["environment"])


def check_images_agree(m: Manifests) -> None:
    """One image per component, the same in compose and Kubernetes; the hub's is this version."""
    compose_images = {s["image"] for s in m.compose["services"].values()}
    k8s_images = {c["image"] for _, c in k8s_containers(m)}
    assert compose_images == k8s_images
    for component in COMPONENTS:
        assert len({i for i in k8s_images if image_name(i) == component}) == 1, component
    assert {i for i in k8s_images if image_name(i) == "sanwang-hub"} == {HUB_IMAGE}


def check_components_agree(m: Manifests) -> None:
    """Kafka, PostgreSQL, Prometheus, Grafana: same image, environment, arguments and ports."""
    for component in COMPONENTS:
        service = m.compose["services"][component]
        [container] = [c for _, c in k8s_containers(m) if image_name(c["image"]) == component]
        assert service["image"] == container["image"], component
        env = {k: references(v) for k, v in k8s_env(m, container).items()}
        compose_env = {k: references(str(v)) for k, v in service.get("environment", {}).items()}
        assert set(env) == set(compose_env), component
        for key, value in env.items():
            if isinstance(value, str):  # else a Secret's, which compose takes from its env file
                assert compose_env[key] == value, f"{component} {key}"
        assert service.get("command") == container.get("args"), component
        assert compose_ports(service) == k8s_ports(container), component


def variables(argv: list[str] | None) -> list[str] | None:
    """Compose's ${NAME:-...} and Kubernetes' $(NAME) both as <NAME>."""
    return argv and [references(a) for a in argv]


def check_same_services(m: Manifests) -> None:
    """Every long-running compose hub service is a Kubernetes workload of the same name and argv;
    a variable a Kubernetes argv uses is in the container's environment."""
    k8s = {w["metadata"]["name"]: variables(k8s_argv(c)) for w, c in hub_k8s(m)
           if w["kind"] != "Job"}
    compose = {n: variables(compose_argv(s)) for n, s in hub_compose(m).items() if n != "migrate"}
    assert compose == k8s
    for _, container in hub_k8s(m):
        for name in re.findall(r"\$\((\w+)\)", " ".join(k8s_argv(container) or [])):
            assert name in k8s_env(m, container), f"$({name}) is not defined"


def check_migrate(m: Manifests) -> None:
    """The migrate step does what `sanwang up` does to external services, and the ACLs `up`
    creates on its own broker, in both; it imports."""
    service = m.compose["services"]["migrate"]
    container = pod_spec(k8s_doc(m, "Job", "sanwang-migrate"))["containers"][0]
    compose_cmd = service["entrypoint"] + service["command"]
    assert compose_cmd == container["command"] + container["args"]
    script = compose_cmd[-1]
    tree = ast.parse(script)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
    for step in ("ensure_topics", "all_topics", "ensure_acls", "apply_migrations"):
        assert f"{step}(" in script, step


def check_dockerfile(m: Manifests) -> None:
    """The image installs every package of pyproject.toml (the departments' declarations
    included), runs as the user the workloads name, and has the folders they use."""
    text = m.dockerfile
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]
    assert set(re.findall(r"^COPY (\w+) \1$", text, re.M)) == set(packages), "packages copied"
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"pip install \.", text)
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert 'ENTRYPOINT ["sanwang"]' in text and "sanwang" in scripts
    uid = int(re.search(r"^USER (\d+)", text, re.M).group(1))
    for workload, _ in hub_k8s(m):
        assert pod_spec(workload)["securityContext"]["runAsUser"] == uid
    home = configmap_env(m)[f"{PREFIX}HOME"]
    watched = [a[a.index("--watch") + 1] for a in map(compose_argv, hub_compose(m).values())
               if a and "--watch" in a]
    for folder in [home, *watched]:
        assert folder in text, f"{folder} is not created for user {uid} in the image"


def check_secrets(m: Manifests) -> None:
    """Referenced Secrets and keys exist; push tokens name every department, where cli reads."""
    containers = [c for _, c in k8s_containers(m)]
    containers += [c for w in k8s_workloads(m) for c in pod_spec(w).get("initContainers", [])]
    for container in containers:
        for value in k8s_env(m, container).values():
            if isinstance(value, tuple) and value[0] == "secret":
                assert value[2] in k8s_doc(m, "Secret", value[1])["stringData"], value
    assert set(k8s_doc(m, "Secret", KAFKA_SECRET)["stringData"]) == {
        *kafka_auth.principals(), PUSH_PASSWORDS_KEY}
    tokens = json.loads(k8s_doc(m, "Secret", "sanwang-push-tokens")["stringData"]
                        ["push-tokens.json"])
    assert set(tokens) == set(all_departments())
    push = pod_spec(k8s_doc(m, "Deployment", "push"))["containers"][0]
    home = Path(configmap_env(m)[f"{PREFIX}HOME"])
    mounted = {v["mountPath"] for v in push["volumeMounts"] if v.get("subPath")}
    assert mounted == {str(home / "secrets" / "push-tokens.json")}


def check_live_paths(m: Manifests) -> None:
    """Every declared department's live path runs, on one service: its own connector
    (`connect <department> --db | --watch`) or, for a department that pushes, the push
    endpoint, which serves them all. (check_same_services: the same in Kubernetes.)"""
    serving: dict[str, list[str]] = {}
    for name, service in hub_compose(m).items():
        argv = compose_argv(service)
        if argv and parse_sanwang(argv).command in ("connect", "api"):
            for each in published_as(argv):
                serving.setdefault(each, []).append(name)
    assert set(serving) == set(all_departments()), f"live: {sorted(serving)}"
    assert all(len(names) == 1 for names in serving.values()), serving


def check_grafana(m: Manifests) -> None:
    """deploy/grafana/provisioning and dashboards, mounted at the same places in both."""
    mounts = {source: target for source, target, *_ in
              (v.split(":") for v in m.compose["services"]["grafana"]["volumes"])}
    provisioning, dashboards = mounts["../grafana/provisioning"], mounts["../grafana/dashboards"]
    assert provisioning == "/etc/grafana/provisioning"
    spec = pod_spec(k8s_doc(m, "Deployment", "grafana"))
    volumes = {v["name"]: v for v in spec["volumes"]}
    made = guide_configmaps()
    landed = {made[volumes[v["name"]]["configMap"]["name"]]: v["mountPath"]
              for v in spec["containers"][0]["volumeMounts"] if "configMap" in volumes[v["name"]]}
    assert landed == {"deploy/grafana/dashboards": dashboards,
                      "deploy/grafana/provisioning/datasources": f"{provisioning}/datasources",
                      "deploy/grafana/provisioning/dashboards": f"{provisioning}/dashboards"}
    providers = [p for f in grafana_provisioning("dashboards") for p in f.get("providers", [])]
    assert providers
    for env in grafana_envs(m).values():
        for provider in providers:
            assert expand(provider["options"]["path"], env).rstrip("/") == dashboards


def check_k8s_layout(m: Manifests) -> None:
    """Everything in the namespace; the kustomization lists every file but the placeholders."""
    for doc in m.k8s:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]
    files = {d["__file__"] for d in m.k8s} - {"secret.yaml"}
    assert sorted(m.kustomization["resources"]) == sorted(files)
    defined = {d["metadata"]["name"] for d in m.k8s if d["kind"] == "ConfigMap"}
    for workload in k8s_workloads(m):
        for volume in pod_spec(workload).get("volumes", []):
            sources = [volume.get("configMap")] + [
                s.get("configMap") for s in volume.get("projected", {}).get("sources", [])]
            for source in filter(None, sources):
                assert source["name"] in defined | set(guide_configmaps()), source["name"]


CHECKS: list[Callable[[Manifests], None]] = [
    check_kafka_image, check_kafka_config, check_kafka_format, check_kafka_credentials,
    check_env_names, check_hub_env, check_topics,
    check_commands_and_ports, check_prometheus, check_prometheus_files, check_database,
    check_initdb, check_images_agree, check_components_agree, check_same_services,
    check_migrate, check_dockerfile, check_secrets, check_live_paths, check_grafana,
    check_k8s_layout,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_manifests_agree_with_the_code(check: Callable[[Manifests], None],
                                       manifests: Manifests) -> None:
    check(manifests)


def test_files_name_only_real_settings() -> None:
    """Comments and the guide included: no SANWANG_* name that neither the hub nor Grafana's
    provisioning reads."""
    paths = [COMPOSE_FILE, DOCKERFILE, GUIDE, *K8S_DIR.glob("*.yaml")]
    for path in paths:
        for name in re.findall(r"\bSANWANG_[A-Z0-9_]+", path.read_text()):
            assert (name.removeprefix(PREFIX).lower() in HubSettings.model_fields
                    or name in grafana_variables()), (path, name)


def check_grafana_datasource(m: Manifests) -> None:
    """Grafana's provisioned datasource, expanded with its environment, is the Prometheus of
    the manifests (their Service name and port), in both."""
    own = k8s_ports(pod_spec(k8s_doc(m, "Deployment", "prometheus"))["containers"][0])
    sources = [s for f in grafana_provisioning("datasources") for s in f.get("datasources", [])
               if s["type"] == "prometheus"]
    assert sources
    for env in grafana_envs(m).values():
        for source in sources:
            url = urlsplit(expand(source["url"], env))
            assert url.hostname == "prometheus" and url.port in own, url.geturl()


def test_grafana_reaches_the_prometheus_of_the_manifests(manifests: Manifests) -> None:
    check_grafana_datasource(manifests)


def test_repository_files_the_manifests_mount_exist() -> None:
    made = guide_configmaps()
    assert set(made) == {"prometheus-rules", "grafana-datasources", "grafana-dashboard-providers",
                         "grafana-dashboards", "kafka-format-storage"}
    for path in made.values():
        assert (REPO / path).exists(), path
    assert prometheus.ALERT_RULES.exists()


def test_the_guide_gives_every_principal_its_password(manifests: Manifests) -> None:
    """deploy/DEPLOYING.md's env file and its `kubectl create secret generic sanwang-kafka` hold
    every principal's password, and the push service's JSON the same passwords as the keys of
    the other departments it publishes for."""
    text = GUIDE.read_text().replace("\\\n", " ")
    env_file = set(re.findall(r"^(HUB_KAFKA_\w+_PASSWORD)=", text, re.M))
    assert env_file == {password_variable(p) for p in kafka_auth.principals()}
    [command] = re.findall(r"create secret generic sanwang-kafka ([^\n]+)", text)
    keys = re.findall(r"--from-literal=([\w-]+)=", command)
    assert sorted(keys) == sorted([*kafka_auth.principals(), PUSH_PASSWORDS_KEY])
    shared = dict(re.findall(r'--from-literal=(\w+)="(\$\w+)"', command))
    pushed = dict(re.findall(r'\\"(\w+)\\": \\"(\$\w+)\\"', command))
    assert pushed == {p: shared.get(p) for p in _push_others(manifests)}


# ---- drift: each mutation must make its check fail -------------------------------------------

def _set_k8s_image(name: str, image: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        for workload, container in k8s_containers(m):
            if workload["metadata"]["name"] == name:
                container["image"] = image
    return mutate


def _k8s_container(m: Manifests, kind: str, name: str) -> dict[str, Any]:
    return pod_spec(k8s_doc(m, kind, name))["containers"][0]


def _set_prometheus(old: str, new: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        for doc in (m.compose["configs"]["prometheus-config"],):
            doc["content"] = doc["content"].replace(old, new)
        data = k8s_doc(m, "ConfigMap", "prometheus-config")["data"]
        data["prometheus.yml"] = data["prometheus.yml"].replace(old, new)
    return mutate


def _set_kafka_env(name: str, value: str | None) -> Callable[[Manifests], None]:
    """The same change (None: removed) in both brokers, so only the comparison with the code
    can see it."""
    def mutate(m: Manifests) -> None:
        envs = [m.compose["services"]["kafka"]["environment"],
                k8s_doc(m, "ConfigMap", "kafka-env")["data"]]
        container = _k8s_container(m, "StatefulSet", "kafka")
        if any(var["name"] == name for var in container["env"]):
            envs = envs[:1]
            for var in container["env"]:
                if var["name"] == name:
                    var["value"] = value
        for env in envs:
            env.pop(name) if value is None else env.update({name: value})
    return mutate


def _set_hub_env(name: str, where: str, **env: Any) -> Callable[[Manifests], None]:
    """Set (None: remove) variables of one hub process in compose or in Kubernetes."""
    def mutate(m: Manifests) -> None:
        if where == "compose":
            service = m.compose["services"][name]
            service["environment"] = {**service["environment"], **env}
            for key in [k for k, v in env.items() if v is None]:
                del service["environment"][key]
            return
        kind = "Job" if name == "sanwang-migrate" else "Deployment"
        container = _k8s_container(m, kind, name)
        container["env"] = [v for v in container["env"] if v["name"] not in env]
        container["env"] += [{"name": k, "value": v} if isinstance(v, str) else
                             {"name": k, "valueFrom": {"secretKeyRef": v}}
                             for k, v in env.items() if v is not None]
    return mutate


def _format_password(principal: str, key: str) -> Callable[[Manifests], None]:
    """The Kubernetes format step gives `principal` the password of Secret key `key`."""
    def mutate(m: Manifests) -> None:
        [init] = pod_spec(k8s_doc(m, "StatefulSet", "kafka"))["initContainers"]
        for var in init["env"]:
            if var["name"] == password_variable(principal):
                var["valueFrom"]["secretKeyRef"]["key"] = key
    return mutate


def _push_others(m: Manifests) -> list[str]:
    """The departments the push service publishes for besides its own principal."""
    argv = compose_argv(m.compose["services"]["push"])
    return sorted(published_as(argv) - {kafka_principal(argv)})


def _push_passwords(where: str, passwords: Callable[[list[str]], dict[str, str]]
                    ) -> Callable[[Manifests], None]:
    """The push service's SANWANG_KAFKA_PASSWORDS become {principal: whose password}, from the
    push service's other departments: compose's from the env file, Kubernetes' Secret key."""
    def mutate(m: Manifests) -> None:
        chosen = passwords(_push_others(m))
        if where == "compose":
            m.compose["services"]["push"]["environment"][f"{PREFIX}KAFKA_PASSWORDS"] = json.dumps(
                {p: f"${{{password_variable(q)}}}" for p, q in chosen.items()})
            return
        secret = k8s_doc(m, "Secret", KAFKA_SECRET)["stringData"]
        secret[PUSH_PASSWORDS_KEY] = json.dumps({p: secret[q] for p, q in chosen.items()})
    return mutate


def _drop_format_password(m: Manifests) -> None:
    [init] = pod_spec(k8s_doc(m, "StatefulSet", "kafka"))["initContainers"]
    dropped = password_variable(_push_others(m)[0])
    init["env"] = [var for var in init["env"] if var["name"] != dropped]


def _drop_acls_from_migrate(m: Manifests) -> None:
    service = m.compose["services"]["migrate"]
    container = _k8s_container(m, "Job", "sanwang-migrate")
    for script in (service["command"], container["args"]):
        script[-1] = script[-1].replace("ensure_acls(settings)\n", "")


def _drop_initdb_role(m: Manifests) -> None:
    for scripts in (m.compose["configs"]["sanwang-initdb"],):
        scripts["content"] = scripts["content"].replace("CREATE ROLE sanwang_api LOGIN;\n", "")
    data = k8s_doc(m, "ConfigMap", "postgres-initdb")["data"]
    data["01-sanwang.sql"] = data["01-sanwang.sql"].replace("CREATE ROLE sanwang_api LOGIN;\n", "")


def _set_partitions(m: Manifests) -> None:
    k8s_doc(m, "ConfigMap", "sanwang-env")["data"][f"{PREFIX}TOPIC_PARTITIONS"] = "12"
    for service in hub_compose(m).values():
        service["environment"][f"{PREFIX}TOPIC_PARTITIONS"] = "12"


DRIFTS: list[tuple[str, Callable[[Manifests], None], Callable[[Manifests], None]]] = [
    ("kafka image of another version", _set_k8s_image("kafka", "apache/kafka:3.9.0"),
     check_kafka_image),
    ("compose kafka image untagged",
     lambda m: m.compose["services"]["kafka"].update(image="apache/kafka:latest"),
     check_kafka_image),
    ("broker auto-creates topics", _set_kafka_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true"),
     check_kafka_config),
    ("broker partitions differ from the settings", _set_kafka_env("KAFKA_NUM_PARTITIONS", "3"),
     check_kafka_config),
    ("broker advertises another address",
     _set_kafka_env("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://kafka-0:9092"), check_kafka_config),
    ("broker configured differently in compose",
     lambda m: m.compose["services"]["kafka"]["environment"].update(KAFKA_NUM_NETWORK_THREADS="8"),
     check_kafka_config),
    ("unknown SANWANG_ variable",
     lambda m: k8s_doc(m, "ConfigMap", "sanwang-env")["data"].update(SANWANG_METRIC_HOSTS="x"),
     check_env_names),
    ("misspelt SANWANG_ variable in compose",
     lambda m: m.compose["services"]["api"]["environment"].update(SANWANG_KAFKA_BOOTSTRAPS="k"),
     check_env_names),
    ("compose environment differs from the ConfigMap",
     lambda m: m.compose["services"]["processor"]["environment"].update(
         SANWANG_TOPIC_PREFIX="other"), check_hub_env),
    ("a Deployment without the database URL",
     lambda m: _k8s_container(m, "Deployment", "api").update(env=[]), check_hub_env),
    ("partitions fewer than the broker's", _set_partitions, check_topics),
    ("more processors than partitions",
     lambda m: k8s_doc(m, "Deployment", "processor")["spec"].update(replicas=12), check_topics),
    ("processor metrics on another port",
     lambda m: _k8s_container(m, "Deployment", "processor")["ports"][0].update(
         containerPort=19200), check_commands_and_ports),
    ("API listening on another port",
     lambda m: m.compose["services"]["api"].update(
         command=["api", "serve", "--listen", "0.0.0.0:8080"]), check_commands_and_ports),
    ("push listening on loopback only",
     lambda m: _k8s_container(m, "Deployment", "push").update(
         args=["connect", "social-security", "--listen", "127.0.0.1:19102"]),
     check_commands_and_ports),
    ("a command the CLI does not know",
     lambda m: m.compose["services"]["processor"].update(command=["processs"]),
     check_commands_and_ports),
    ("a moved metrics port setting",
     lambda m: k8s_doc(m, "ConfigMap", "sanwang-env")["data"].update(
         SANWANG_CONNECTOR_METRICS_PORT="19201"), check_commands_and_ports),
    ("Prometheus scrapes the processor on another port",
     _set_prometheus("port: 19100", "port: 19200"), check_prometheus),
    ("Prometheus without the API job",
     _set_prometheus("job_name: sanwang-api", "job_name: api"), check_prometheus),
    ("compose and Kubernetes scrape configs differ",
     lambda m: m.compose["configs"]["prometheus-config"].update(content="scrape_configs: []\n"),
     check_prometheus),
    ("database URL names another database",
     lambda m: k8s_doc(m, "Secret", "sanwang-database")["stringData"].update(
         url="postgresql://sanwang_owner:CHANGE-ME-owner@postgres:5432/hub"), check_database),
    ("init script misses a role", _drop_initdb_role, check_initdb),
    ("hub image of another version",
     _set_k8s_image("processor", "sanwang-hub:0.0.9"), check_images_agree),
    ("postgres image differs between compose and Kubernetes",
     _set_k8s_image("postgres", "postgres:16"), check_images_agree),
    ("Grafana configured differently",
     lambda m: _k8s_container(m, "Deployment", "grafana")["env"][1].update(value="true"),
     check_components_agree),
    ("Prometheus keeps data for another time",
     lambda m: _k8s_container(m, "Deployment", "prometheus")["args"].__setitem__(
         2, "--storage.tsdb.retention.time=30d"), check_components_agree),
    ("PostgreSQL initialised differently",
     lambda m: m.compose["services"]["postgres"]["environment"].update(
         POSTGRES_INITDB_ARGS="--encoding=SQL_ASCII"), check_components_agree),
    ("migrate script differs",
     lambda m: _k8s_container(m, "Job", "sanwang-migrate")["args"].__setitem__(0, "pass"),
     check_migrate),
    ("push tokens miss a department",
     lambda m: k8s_doc(m, "Secret", "sanwang-push-tokens")["stringData"].update(
         {"push-tokens.json": '{"police": "t"}'}), check_secrets),
    ("a service only compose runs",
     lambda m: m.compose["services"].update(extra={**m.compose["services"]["api"]}),
     check_same_services),
    ("Grafana's dashboards provider looks elsewhere",
     lambda m: m.compose["services"]["grafana"]["environment"].update(SANWANG_REPO="/opt/x"),
     check_grafana),
    ("Grafana's datasource is the local stack's Prometheus in Kubernetes",
     lambda m: _k8s_container(m, "Deployment", "grafana")["env"][3].update(
         value="http://127.0.0.1:19090"), check_grafana_datasource),
    ("Grafana without the Prometheus URL in compose",
     lambda m: m.compose["services"]["grafana"]["environment"].pop("SANWANG_PROMETHEUS_URL"),
     check_grafana_datasource),
    # Kafka security: a broker without SASL or ACLs, a format without credentials, a hub process
    # without its principal, in either deployment
    ("compose broker listening in PLAINTEXT",
     lambda m: m.compose["services"]["kafka"]["environment"].update(
         KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"),
     check_kafka_config),
    ("brokers without SASL mechanisms", _set_kafka_env("KAFKA_SASL_ENABLED_MECHANISMS", None),
     check_kafka_config),
    ("brokers without the authorizer", _set_kafka_env("KAFKA_AUTHORIZER_CLASS_NAME", None),
     check_kafka_config),
    ("Kubernetes broker allowing what no ACL denies",
     lambda m: k8s_doc(m, "ConfigMap", "kafka-env")["data"].update(
         KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND="true"), check_kafka_config),
    ("brokers with another super user", _set_kafka_env("KAFKA_SUPER_USERS", "User:ANONYMOUS"),
     check_kafka_config),
    ("brokers' listener logging in with another password",
     _set_kafka_env("KAFKA_LISTENER_NAME_BROKER_SCRAM___SHA___256_SASL_JAAS_CONFIG",
                    'org.apache.kafka.common.security.scram.ScramLoginModule required '
                    'username="admin" password="$(HUB_KAFKA_PROCESSOR_PASSWORD)";'),
     check_kafka_config),
    ("a PLAIN listener for anyone in both",
     _set_kafka_env("KAFKA_LISTENER_NAME_BROKER_PLAIN_SASL_JAAS_CONFIG", "x"),
     check_kafka_config),
    ("compose broker starts before its storage is formatted",
     lambda m: m.compose["services"]["kafka"].pop("depends_on"), check_kafka_format),
    ("Kubernetes broker without the format init container",
     lambda m: pod_spec(k8s_doc(m, "StatefulSet", "kafka")).pop("initContainers"),
     check_kafka_format),
    ("compose format step without a principal's password",
     lambda m: m.compose["services"]["kafka-format"]["environment"].pop(
         "HUB_KAFKA_SOCIAL_SECURITY_PASSWORD"), check_kafka_format),
    ("Kubernetes format step gives police the processor's password",
     _format_password("police", "processor"), check_kafka_format),
    ("compose format step formats another log dir",
     lambda m: m.compose["services"]["kafka-format"]["environment"].update(
         KAFKA_LOG_DIRS="/tmp/kraft"), check_kafka_format),
    ("compose processor without a principal",
     _set_hub_env("processor", "compose", SANWANG_KAFKA_PRINCIPAL=None,
                  SANWANG_KAFKA_PASSWORD=None), check_kafka_credentials),
    ("Kubernetes civil affairs connector as the police",
     _set_hub_env("connect-civil-affairs", "k8s", SANWANG_KAFKA_PRINCIPAL="police"),
     check_kafka_credentials),
    ("Kubernetes push with the admin's password",
     _set_hub_env("push", "k8s", SANWANG_KAFKA_PASSWORD={"name": "sanwang-kafka",
                                                          "key": "admin"}),
     check_kafka_credentials),
    ("compose API holding the admin's principal",
     _set_hub_env("api", "compose", SANWANG_KAFKA_PRINCIPAL="admin",
                  SANWANG_KAFKA_PASSWORD="${HUB_KAFKA_ADMIN_PASSWORD}"), check_kafka_credentials),
    ("Kubernetes migrate step as the processor",
     _set_hub_env("sanwang-migrate", "k8s", SANWANG_KAFKA_PRINCIPAL="processor"),
     check_kafka_credentials),
    ("hub processes connecting in PLAINTEXT",
     lambda m: k8s_doc(m, "ConfigMap", "sanwang-env")["data"].update(
         SANWANG_KAFKA_SECURITY_PROTOCOL="PLAINTEXT"), check_kafka_credentials),
    ("migrate step without the ACLs", _drop_acls_from_migrate, check_migrate),
    ("Grafana's variable in a hub process",
     lambda m: m.compose["services"]["api"]["environment"].update(SANWANG_REPO="/srv/sanwang"),
     check_env_names),
    ("a variable Grafana's provisioning does not read",
     lambda m: m.compose["services"]["grafana"]["environment"].update(SANWANG_GRAFANA="x"),
     check_env_names),
    # principals beyond the first three departments: the format step's list, the push
    # endpoint's other departments, the image's declarations, every live path served
    ("compose format step lists a principal fewer",
     lambda m: m.compose["services"]["kafka-format"]["environment"].update(
         {PRINCIPALS_VARIABLE: " ".join(kafka_auth.principals()[:-1])}), check_kafka_format),
    ("Kubernetes format step without a department's password", _drop_format_password,
     check_kafka_format),
    ("format script with its own list of principals",
     lambda m: setattr(m, "format_script", m.format_script.replace(
         '"${principals[@]}"', " ".join(kafka_auth.principals()))), check_kafka_format),
    ("compose push without one other department's password",
     _push_passwords("compose", lambda others: {others[0]: others[0]}), check_kafka_credentials),
    ("compose push gives a department another's password",
     _push_passwords("compose", lambda others: {others[0]: others[1], others[1]: others[1]}),
     check_kafka_credentials),
    ("Kubernetes push Secret gives a department another's password",
     _push_passwords("k8s", lambda others: {others[0]: others[0], others[1]: others[0]}),
     check_kafka_credentials),
    ("Kubernetes push Secret without one other department's password",
     _push_passwords("k8s", lambda others: {others[1]: others[1]}), check_kafka_credentials),
    ("compose push holding the police's password too",
     _push_passwords("compose", lambda others: {**{p: p for p in others}, "police": "police"}),
     check_kafka_credentials),
    ("Kubernetes push without the other departments' passwords",
     _set_hub_env("push", "k8s", SANWANG_KAFKA_PASSWORDS=None), check_kafka_credentials),
    ("compose push passwords that are no JSON",
     _set_hub_env("push", "compose", SANWANG_KAFKA_PASSWORDS="party=${HUB_KAFKA_PARTY_PASSWORD}"),
     check_kafka_credentials),
    ("compose processor holding a department's password",
     _set_hub_env("processor", "compose",
                  SANWANG_KAFKA_PASSWORDS='{"police": "${HUB_KAFKA_POLICE_PASSWORD}"}'),
     check_kafka_credentials),
    ("Kafka Secret without a department's password",
     lambda m: k8s_doc(m, "Secret", KAFKA_SECRET)["stringData"].pop(_push_others(m)[0]),
     check_secrets),
    ("image without the departments' declarations",
     lambda m: setattr(m, "dockerfile", m.dockerfile.replace(
         "COPY departments departments\n", "")), check_dockerfile),
    ("a department's live path served nowhere",
     lambda m: m.compose["services"].pop("connect-civil-affairs"), check_live_paths),
    ("two push endpoints",
     lambda m: m.compose["services"].update(push2={**m.compose["services"]["push"]}),
     check_live_paths),
    ("a file the kustomization forgets",
     lambda m: m.kustomization["resources"].remove("hub.yaml"), check_k8s_layout),
]


@pytest.mark.parametrize(("mutate", "check"), [d[1:] for d in DRIFTS],
                         ids=[d[0] for d in DRIFTS])
def test_drift_is_caught(mutate: Callable[[Manifests], None],
                         check: Callable[[Manifests], None], manifests: Manifests) -> None:
    check(manifests)  # holds before the mutation
    mutate(manifests)
    with pytest.raises(AssertionError):
        check(manifests)
