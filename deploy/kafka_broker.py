"""The local Apache Kafka broker: jars from Maven Central, KRaft storage, start, health, version."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from deploy.errors import HubError, ServiceError
from deploy.kafka_auth import (
    ADMIN,
    MECHANISM,
    client_config,
    ensure_passwords,
    password_file,
)
from deploy.kafka_check import authenticate
from deploy.processes import read_pid, start_detached, stop, wait_until
from deploy.settings import HubSettings

KAFKA_VERSION = "4.4.0"  # must equal <kafka.version> in deploy/kafka/pom.xml
JOLOKIA_JAR_PREFIX = "jolokia-agent-jvm"


def _asset(name: str) -> Path:
    return Path(__file__).parent / "kafka" / name


def jar_dir(settings: HubSettings) -> Path:
    return settings.cache / f"kafka-{KAFKA_VERSION}"


def ensure_jars(settings: HubSettings) -> Path:
    """Fetch the broker's jars with Maven once; later runs reuse the cache (and ~/.m2)."""
    target = jar_dir(settings)
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch Apache Kafka: apt-get install maven")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(_asset("pom.xml"), target / "pom.xml")
    print(f"Fetching Apache Kafka {KAFKA_VERSION} and its dependencies with Maven into {target}")
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(target / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={target / 'lib'}", "-DincludeScope=runtime"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise ServiceError(
            f"Maven could not fetch org.apache.kafka:kafka_2.13:{KAFKA_VERSION}:\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    (target / ".complete").touch()
    return target


def _paths(settings: HubSettings) -> dict[str, Path]:
    base = settings.home.resolve() / "kafka"
    return {
        "base": base,
        "data": base / "data",
        "config": base / "server.properties",
        "pid": base / "kafka.pid",
        "log": base / "kafka.out",
    }


def _server_properties(settings: HubSettings, data_dir: Path) -> str:
    """What every broker of the hub shares (deploy/compose and deploy/k8s too)."""
    controller = f"127.0.0.1:{settings.kafka_controller_port}"
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{controller}",
        "controller.listener.names=CONTROLLER",
        f"log.dirs={data_dir}",
        f"num.partitions={settings.topic_partitions}",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "group.initial.rebalance.delay.ms=0",
        "log.retention.hours=-1",
        "",
    ])


def _security_properties(settings: HubSettings, admin_password: str) -> str:
    """The local broker's listeners: SASL/SCRAM for clients, every request authorized by ACLs.

    The controller listener authenticates too (PLAIN, the admin only: SCRAM users live in the
    metadata log the controller serves, so they cannot guard it), so no anonymous principal
    needs to be a super user.
    """
    controller = f"127.0.0.1:{settings.kafka_controller_port}"
    scram = (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
             f'username="{ADMIN}" password="{admin_password}";')
    plain = (f'org.apache.kafka.common.security.plain.PlainLoginModule required '
             f'username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";')
    return "\n".join([
        f"listeners=BROKER://127.0.0.1:{settings.kafka_port},CONTROLLER://{controller}",
        f"advertised.listeners=BROKER://127.0.0.1:{settings.kafka_port}",
        "listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name=BROKER",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.broker.{MECHANISM.lower()}.sasl.jaas.config={scram}",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={plain}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{ADMIN}",
        "",
    ])


def _format_storage(jars: Path, paths: dict[str, Path], admin_password: str) -> None:
    """Format once, with the admin's SCRAM credential: the first one must exist before the
    broker starts, since only the admin may add the others (deploy/kafka_acls.py)."""
    if (paths["data"] / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    result = subprocess.run(
        ["java", "-cp", _classpath(jars), "kafka.tools.StorageTool", "format",
         f"--cluster-id={cluster_id}", "-c", str(paths["config"]),  # an id may start with -
         "--add-scram", f"{MECHANISM}=[name={ADMIN},password={admin_password}]"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"Formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def _classpath(jars: Path) -> str:
    return ":".join(
        str(p) for p in sorted((jars / "lib").glob("*.jar"))
        if not p.name.startswith(JOLOKIA_JAR_PREFIX)
    )


def _jolokia_agent(settings: HubSettings, jars: Path) -> str:
    agent = next((jars / "lib").glob(f"{JOLOKIA_JAR_PREFIX}-*-javaagent.jar"))
    policy = _asset("jolokia-access.xml")
    return (f"-javaagent:{agent}=host=127.0.0.1,port={settings.kafka_jolokia_port},"
            f"policyLocation=file://{policy}")


def start(settings: HubSettings, timeout: float = 90.0) -> bool:
    """Start the local broker unless it runs already; True if this call started it."""
    paths = _paths(settings)
    if read_pid(paths["pid"]) is not None:
        return False
    jars = ensure_jars(settings)
    if (paths["data"] / "meta.properties").exists() and not password_file(settings).exists():
        raise ServiceError(f"{paths['data']} was formatted before Kafka required authentication;"
                           " remove it (its topics are lost) and run `sanwang up` again")
    admin_password = ensure_passwords(settings)[ADMIN]
    paths["data"].mkdir(parents=True, exist_ok=True)
    paths["config"].touch(mode=0o600)
    paths["config"].chmod(0o600)  # before it holds the admin's password
    paths["config"].write_text(_server_properties(settings, paths["data"])
                               + _security_properties(settings, admin_password))
    _format_storage(jars, paths, admin_password)
    argv = [
        "java", f"-Xmx{settings.kafka_heap}", f"-Xms{settings.kafka_heap}", "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={paths['base']}",
        f"-Dlog4j2.configurationFile={_asset('log4j2.yaml')}",
        _jolokia_agent(settings, jars),
        "-cp", _classpath(jars), "kafka.Kafka", str(paths["config"]),
    ]
    start_detached(argv, paths["pid"], paths["log"])
    wait_until(
        lambda: is_healthy(settings), timeout, "Apache Kafka",
        alive=lambda: read_pid(paths["pid"]) is not None, log_file=paths["log"],
    )
    return True


def stop_local(settings: HubSettings) -> bool:
    return stop(_paths(settings)["pid"], timeout=60.0)


def is_running_locally(settings: HubSettings) -> bool:
    return local_pid(settings) is not None


def local_pid(settings: HubSettings) -> int | None:
    """The local broker's process id (the benchmarks read its CPU time), None if not running."""
    return read_pid(_paths(settings)["pid"])


def is_healthy(settings: HubSettings) -> bool:
    """The broker answers and has at least one unfenced broker registered."""
    try:
        asyncio.run(authenticate(settings, ADMIN))  # fails at once where nothing listens
        admin = KafkaAdminClient(**client_config(settings, ADMIN), request_timeout_ms=3000,
                                 client_id="sanwang-health")
    except (HubError, KafkaError, OSError, ValueError):
        return False
    try:
        cluster = admin.describe_cluster()
        return any(not b.get("is_fenced", False) for b in cluster.get("brokers", []))
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def running_version(settings: HubSettings) -> str:
    """The version the running broker reports about itself (its JMX app-info, via Jolokia).

    An external broker has no agent of ours: then the newest API level it speaks, as kafka-python
    infers it from the broker's ApiVersions answer, marked as such.
    """
    if not settings.external_kafka:
        url = (f"http://127.0.0.1:{settings.kafka_jolokia_port}/jolokia/read/"
               "kafka.server:type=app-info,id=1/Version")
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.load(response)
        if answer.get("status") != 200:
            raise ServiceError(f"Kafka's Jolokia agent refused the version read: {answer}")
        return str(answer["value"])
    admin = KafkaAdminClient(**client_config(settings, ADMIN), request_timeout_ms=5000)
    try:
        api = admin._client.check_version()  # noqa: SLF001 - kafka-python's own API probe
    finally:
        admin.close()
    return "api>=" + ".".join(str(part) for part in api)
