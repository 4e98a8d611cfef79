"""The hub's own errors: one root, one branch per part of the hub.

Each branch carries the exit status `sanwang` gives it (listed in `sanwang --help`); the CLI
prints its message as one line, `sanwang <command>: <message>`, never a traceback. Errors of the
libraries underneath (psycopg2, kafka-python) are turned into these where they happen, with a
message that names what is wrong: the host and port, the principal, the topic.
"""

from __future__ import annotations


class HubError(Exception):
    """Something the hub cannot do; the message says what and, where it can, what to do."""

    exit_code = 1


class InputError(HubError, ValueError):
    """Arguments, files or records that cannot be read (still ValueErrors, as parsers raise)."""

    exit_code = 2


class ConfigurationError(HubError):
    """Settings or secrets missing or wrong: retrying cannot help until someone fixes them."""

    exit_code = 3


class ServiceError(HubError):
    """A service (Kafka, PostgreSQL, Prometheus, a processor) could not be started, reached or
    stopped; the message says which and why."""

    exit_code = 4


class Unreachable(ServiceError):
    """A service that does not answer now: long-running processes retry, one-off commands stop."""


class BrokerError(HubError):
    """Kafka refused a principal (authentication, authorization, a missing topic) or did not
    acknowledge what was published."""

    exit_code = 5


class StoreError(HubError):
    """PostgreSQL refused the hub's role or lacks the hub's tables (migrations not applied)."""

    exit_code = 6


class KeyringError(HubError):
    """The ID-number keyring is missing, or does not open a sealed value."""

    exit_code = 7


class ApiError(HubError):
    """The query API could not answer from a service behind it (Prometheus for the console);
    answered to the client, never an exit status."""


EXIT_CRASH = 70  # an unexpected error stopped the process (a processor: before acknowledging)
