"""`sanwang up | down | status`: the local stack as one unit, or the external services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from deploy import id_keys, kafka_broker, postgres, prometheus
from deploy.kafka_acls import ensure_acls, ensure_principals
from deploy.kafka_auth import password_file, principals
from deploy.migrations import apply_migrations, store_small_cell_k
from deploy.settings import HubSettings
from deploy.topics import ensure_topics
from schemas.topics import all_topics


@dataclass(frozen=True)
class ComponentStatus:
    """One service as `status --json` reports it."""

    name: str
    endpoint: str
    managed: str  # "local" (started by `up`) or "external"
    healthy: bool
    version: str | None
    error: str | None = None


def up(settings: HubSettings, say: Callable[[str], None] = print) -> None:
    """Start what is local and not running, create topics and apply migrations. Idempotent."""
    if settings.external_kafka:
        say(f"Kafka: external at {settings.kafka_bootstrap}")
    else:
        started = kafka_broker.start(settings)
        say(f"Kafka: {'started' if started else 'already running'} at "
            f"{settings.bootstrap_servers}")
        ensure_principals(settings)
    created = ensure_topics(settings, all_topics(settings.topic_prefix))
    if created:
        say(f"Kafka: created topics {', '.join(created)}")
    if not settings.external_kafka:
        ensure_acls(settings)
        say(f"Kafka: SASL/SCRAM principals {', '.join(principals())} (passwords in "
            f"{password_file(settings)}), ACLs for the prefix {settings.topic_prefix}")
    if settings.external_database:
        say("PostgreSQL: external (SANWANG_DATABASE_URL)")
    else:
        started = postgres.start(settings)
        say(f"PostgreSQL: {'started' if started else 'already running'} at "
            f"127.0.0.1:{settings.postgres_port}")
        if id_keys.ensure_keyring_file(settings):
            say(f"ID numbers: created the keyring {id_keys.keyring_path(settings)}")
    applied = apply_migrations(postgres.dsn(settings))
    if applied:
        say(f"PostgreSQL: applied migrations {', '.join(applied)}")
    with postgres.autocommit_cursor(settings) as cur:
        store_small_cell_k(cur, settings.small_cell_k)
    started = prometheus.start(settings)
    say(f"Prometheus: {'started' if started else 'already running'} at "
        f"{prometheus.endpoint(settings)}")


def down(settings: HubSettings, say: Callable[[str], None] = print) -> None:
    """Stop every local service `up` started; external services are left alone."""
    for name, stop in (("Prometheus", prometheus.stop_local), ("PostgreSQL", postgres.stop_local),
                       ("Kafka", kafka_broker.stop_local)):
        say(f"{name}: {'stopped' if stop(settings) else 'was not running'}")


def status(settings: HubSettings) -> list[ComponentStatus]:
    """Each component's endpoint, health and the version the running service reports."""
    return [
        _probe("kafka", settings.bootstrap_servers,
               "external" if settings.external_kafka else "local",
               lambda: kafka_broker.running_version(settings)
               if kafka_broker.is_healthy(settings) else None),
        _probe("postgresql", "external" if settings.external_database
               else f"127.0.0.1:{settings.postgres_port}",
               "external" if settings.external_database else "local",
               lambda: postgres.running_version(settings)),
        _probe("prometheus", prometheus.endpoint(settings), "local",
               lambda: prometheus.running_version(settings)
               if prometheus.is_healthy(settings) else None),
    ]


def _probe(name: str, endpoint: str, managed: str, version: Callable[[], str | None]
           ) -> ComponentStatus:
    try:
        found = version()
    except Exception as error:  # noqa: BLE001 - status reports any failure, it never raises
        return ComponentStatus(name, endpoint, managed, False, None, f"{type(error).__name__}: "
                               f"{error}".splitlines()[0])
    if found is None:
        return ComponentStatus(name, endpoint, managed, False, None, "not answering")
    return ComponentStatus(name, endpoint, managed, True, found)


def status_as_dicts(settings: HubSettings) -> list[dict[str, object]]:
    return [asdict(s) for s in status(settings)]
