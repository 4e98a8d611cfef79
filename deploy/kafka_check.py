"""Whether Kafka lets a principal do its work, asked before a process starts it.

A refusal that retrying cannot cure (authentication, a topic missing or not allowed, a consumer
group not allowed) is a BrokerError naming the principal and the topic; a broker that does not
answer is Unreachable, which long-running processes retry. kafka-python's clients cannot tell
the two apart (both wait out their bootstrap timeout), so authentication is tried on a
connection of aiokafka's, which says why it failed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable

from aiokafka import errors as aiokafka_errors
from aiokafka.conn import create_conn
from kafka import KafkaAdminClient
from kafka.errors import GroupAuthorizationFailedError, KafkaError

from deploy.errors import BrokerError, ConfigurationError, Unreachable
from deploy.kafka_auth import client_config
from deploy.reachability import mark_reachable
from deploy.settings import HubSettings

CONNECT_SECONDS = 10.0
UNKNOWN_TOPIC, TOPIC_NOT_ALLOWED = 3, 29  # Kafka's error codes in a topic's description


def check_kafka(settings: HubSettings, principal: str, reads: Iterable[str] = (),
                writes: Iterable[str] = (), group: str | None = None) -> None:
    """The principal authenticates, may read `reads`, write `writes` and use `group`."""
    asyncio.run(authenticate(settings, principal))
    config = client_config(settings, principal)
    user = config.get("sasl_plain_username", principal)  # an external broker's: the setting's
    needs = {**{topic: "READ" for topic in reads}, **{topic: "WRITE" for topic in writes}}
    try:
        admin = KafkaAdminClient(**config, client_id="sanwang-check")
    except KafkaError as error:
        raise _unreachable(settings, error) from None
    try:
        described = admin.describe_topics(sorted(needs)) if needs else []
        if group is not None:
            _check_group(admin, group)
    except GroupAuthorizationFailedError:
        raise BrokerError(f"Kafka at {settings.bootstrap_servers} does not let principal "
                          f"{user!r} use consumer group {group!r} (ACLs)") from None
    except KafkaError as error:
        raise _unreachable(settings, error) from None
    finally:
        admin.close()
    for topic in described:
        _check_topic(settings, user, topic, needs[topic["name"]])
    mark_reachable("kafka", True)


def _check_group(admin: KafkaAdminClient, group: str) -> None:
    """GroupAuthorizationFailedError unless the principal may use `group`; a coordinator not
    there yet (a new broker creates it on first use) tells nothing either way."""
    try:
        admin.describe_groups([group])
    except KafkaError as error:
        if not error.retriable:
            raise


def _check_topic(settings: HubSettings, principal: str, topic: dict, operation: str) -> None:
    name, code = topic["name"], topic["error_code"]
    where = f"Kafka at {settings.bootstrap_servers}"
    if code == UNKNOWN_TOPIC:
        raise BrokerError(f"{where} has no topic {name!r}: run `sanwang up` (or the migrate "
                          "job), which creates the hub's topics")
    if code == TOPIC_NOT_ALLOWED:
        raise BrokerError(f"{where} does not let principal {principal!r} see topic {name!r} "
                          "(no ACL allows it, or the topic does not exist)")
    allowed = topic.get("authorized_operations")
    if code == 0 and allowed is not None and operation not in allowed:
        raise BrokerError(f"{where} does not let principal {principal!r} {operation} topic "
                          f"{name!r} (ACLs)")
    if code:
        raise BrokerError(f"{where}: topic {name!r}: error {code}")


async def authenticate(settings: HubSettings, principal: str) -> None:
    """Log in as `principal` on the first bootstrap server that answers."""
    config = client_config(settings, principal)
    options = {key: value for key, value in config.items() if key != "bootstrap_servers"}
    failure: Exception | None = None
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(create_conn(host, int(port), **options),
                                          CONNECT_SECONDS)
        except ssl.SSLError as error:
            raise ConfigurationError(f"TLS to Kafka at {server} failed: {error} (its CA: "
                                     "SANWANG_KAFKA_SSL_CAFILE)") from None
        except (TimeoutError, OSError, aiokafka_errors.KafkaConnectionError) as error:
            failure = error
            continue
        except aiokafka_errors.KafkaError as error:
            user = config.get("sasl_plain_username", principal)
            raise BrokerError(f"Kafka at {server} refused principal {user!r}: {error}") from None
        conn.close()
        mark_reachable("kafka", True)
        return
    raise _unreachable(settings, failure)


def _unreachable(settings: HubSettings, error: Exception | None) -> Unreachable:
    mark_reachable("kafka", False)
    return Unreachable(f"Kafka at {settings.bootstrap_servers} does not answer "
                       f"({error or 'no bootstrap server'})")
