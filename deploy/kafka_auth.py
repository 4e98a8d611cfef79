"""Who a hub client is on Kafka: the principals, their passwords, and the client settings for each.

Every hub client authenticates (SASL/SCRAM-SHA-256). On the local broker each part of the hub
uses its own principal, with passwords `sanwang up` generated into $SANWANG_HOME/secrets; an
external broker's principal and password come from the settings instead (one per process).
"""

from __future__ import annotations

import json
import secrets
import ssl
from pathlib import Path
from typing import Any

import faust

from deploy.errors import ConfigurationError
from deploy.settings import HubSettings
from schemas.departments import all_departments

ADMIN = "admin"  # the broker's only super user: `sanwang up`, topics, ACLs, tests' setup
PROCESSOR = "processor"  # `sanwang process`, and `sanwang wait` reading its group's lag
MECHANISM = "SCRAM-SHA-256"


def principals() -> list[str]:
    """Every principal of the local broker; each department publishes as itself."""
    return [ADMIN, PROCESSOR, *all_departments()]


def password_file(settings: HubSettings) -> Path:
    return settings.home.resolve() / "secrets" / "kafka.json"


def ensure_passwords(settings: HubSettings) -> dict[str, str]:
    """The local principals' passwords, generating the missing ones (file mode 0600)."""
    path = password_file(settings)
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(principals()) <= known.keys():
        return known
    for name in principals():
        known.setdefault(name, secrets.token_urlsafe(24))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(json.dumps(known, indent=2) + "\n")
    path.chmod(0o600)
    return known


def _credentials(settings: HubSettings, principal: str) -> tuple[str, str] | None:
    """(user, password) for `principal`; None for an external broker without a configured one.

    On an external broker a process is its configured user, unless `kafka_passwords` names
    `principal` itself (a process publishing for several departments)."""
    if settings.external_kafka:
        others = settings.kafka_passwords.get_secret_value()
        try:
            passwords = json.loads(others) if others else {}
        except ValueError:
            raise ConfigurationError("SANWANG_KAFKA_PASSWORDS is not a JSON object") from None
        if principal in passwords:
            return principal, passwords[principal]
        if not settings.kafka_principal:
            return None
        return settings.kafka_principal, settings.kafka_password.get_secret_value()
    path = password_file(settings)
    try:
        return principal, json.loads(path.read_text())[principal]
    except (FileNotFoundError, KeyError):
        raise ConfigurationError(f"no Kafka password for {principal!r} in {path}: "
                           "run `sanwang up` first") from None


def _protocol(settings: HubSettings) -> str:
    return settings.kafka_security_protocol if settings.external_kafka else "SASL_PLAINTEXT"


def client_config(settings: HubSettings, principal: str) -> dict[str, Any]:
    """kafka-python keyword arguments that connect as `principal` (any client class)."""
    config: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers}
    found = _credentials(settings, principal)
    if found is None:
        return config
    config.update(security_protocol=_protocol(settings), sasl_mechanism=MECHANISM,
                  sasl_plain_username=found[0], sasl_plain_password=found[1])
    if _protocol(settings) == "SASL_SSL":
        config["ssl_context"] = _tls_context(settings)
    return config


def faust_credentials(settings: HubSettings, principal: str) -> faust.SASLCredentials | None:
    """The same identity as `client_config`, as faust's `broker_credentials`."""
    found = _credentials(settings, principal)
    if found is None:
        return None
    tls = _tls_context(settings) if _protocol(settings) == "SASL_SSL" else None
    return faust.SASLCredentials(username=found[0], password=found[1], mechanism=MECHANISM,
                                 ssl_context=tls)


def _tls_context(settings: HubSettings) -> ssl.SSLContext:
    """Verifies the broker against the system's CAs, or the one in `kafka_ssl_cafile`."""
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
