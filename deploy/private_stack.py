"""Settings for a private stack (own state directory, free ports), as tests and benchmarks use:
it runs beside a user's `sanwang up` stack without touching it."""

from __future__ import annotations

import os
import socket

from deploy.settings import HubSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_settings(home: os.PathLike, partitions: int = 3) -> HubSettings:
    """A local stack in `home` on free ports, whatever the environment says."""
    return HubSettings(
        home=home, kafka_bootstrap="", database_url="", id_keyring="", id_keyring_file="",
        kafka_port=free_port(), kafka_controller_port=free_port(), kafka_jolokia_port=free_port(),
        postgres_port=free_port(), prometheus_port=free_port(),
        processor_metrics_port=free_port(), connector_metrics_port=free_port(),
        push_port=free_port(), api_port=free_port(),
        topic_partitions=partitions,
    )


def settings_env(settings: HubSettings) -> dict[str, str]:
    """The environment that makes a `sanwang` subprocess use these settings.

    Only the settings that were set are passed: the subprocess derives the others from the same
    environment as this process did. So a metrics port left to its default stays a default, and
    several connectors started with one settings object each find a free port instead of one
    failing on a port it was "given"."""
    env = dict(os.environ)
    # external services stay unset (the private stack is local); secrets are passed as such below
    left_out = ("kafka_bootstrap", "database_url", "kafka_principal", "kafka_password",
                "kafka_passwords", "id_keyring")
    for name, value in settings.model_dump().items():
        if name in settings.model_fields_set and name not in left_out:
            env[f"SANWANG_{name.upper()}"] = str(value)
    env["SANWANG_ID_KEYRING"] = settings.id_keyring.get_secret_value()
    return env
