"""What each principal may do on the hub's topics and groups, and putting that on the broker.

The broker denies whatever no ACL allows (`allow.everyone.if.no.acl.found=false`). Every ACL
names resources derived from the topic prefix, so hubs (and tests) with different prefixes
share one broker. Departments see the change feed (resident ids, changes, record ids: no
personal values; the values themselves come from the query API under entitlements), never
the findings or another department's records.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
    UserScramCredentialUpsertion,
)

from deploy.errors import ServiceError
from deploy.kafka_auth import ADMIN, MECHANISM, PROCESSOR, client_config, ensure_passwords
from deploy.settings import HubSettings
from schemas.departments import all_departments
from schemas.topics import (
    changes_topic,
    dead_letter_topic,
    findings_topic,
    processor_group,
    raw_topic,
    raw_topics,
)

READ, WRITE, DESCRIBE = ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE
LITERAL, PREFIXED = ACLResourcePatternType.LITERAL, ACLResourcePatternType.PREFIXED


def department_group_prefix(prefix: str, department: str) -> str:
    """Consumer groups a department reading the change feed may use: `<prefix>-<dept>...`."""
    return f"{prefix}-{department}"


def _allow(principal: str, kind: ResourceType, name: str, operations: tuple[ACLOperation, ...],
           pattern: ACLResourcePatternType = LITERAL) -> list[ACL]:
    return [ACL(f"User:{principal}", "*", op, ACLPermissionType.ALLOW,
                ResourcePattern(kind, name, pattern)) for op in operations]


def department_acls(prefix: str, department: str) -> list[ACL]:
    """Every declared department's principal (its id): write its own raw topic and dead
    letters; read the change feed in groups of its own."""
    topic = ResourceType.TOPIC
    return [
        *_allow(department, topic, raw_topic(prefix, department), (WRITE, DESCRIBE)),
        *_allow(department, topic, dead_letter_topic(prefix), (WRITE, DESCRIBE)),
        *_allow(department, topic, changes_topic(prefix), (READ, DESCRIBE)),
        *_allow(department, ResourceType.GROUP, department_group_prefix(prefix, department),
                (READ,), PREFIXED),
    ]


def processor_acls(prefix: str) -> list[ACL]:
    """Read the raw topics in its group; write dead letters, changes and findings.

    faust also creates and uses topics named after its group (`<group>-__assignor-__leader`),
    so the processor owns every topic that starts with its group id.
    """
    topic, group = ResourceType.TOPIC, processor_group(prefix)
    return [
        *(acl for name in raw_topics(prefix) for acl in _allow(PROCESSOR, topic, name,
                                                               (READ, DESCRIBE))),
        *(acl for name in (dead_letter_topic(prefix), changes_topic(prefix),
                           findings_topic(prefix))
          for acl in _allow(PROCESSOR, topic, name, (WRITE, DESCRIBE))),
        *_allow(PROCESSOR, ResourceType.GROUP, group, (READ,), PREFIXED),
        *_allow(PROCESSOR, topic, f"{group}-", (ACLOperation.CREATE, READ, WRITE, DESCRIBE,
                                                ACLOperation.DESCRIBE_CONFIGS), PREFIXED),
    ]


def hub_acls(prefix: str) -> list[ACL]:
    return [*processor_acls(prefix),
            *(acl for department in all_departments()
              for acl in department_acls(prefix, department))]


def ensure_principals(settings: HubSettings) -> None:
    """Give the local broker every principal's SCRAM credential from the password file."""
    passwords = ensure_passwords(settings)
    admin = KafkaAdminClient(**client_config(settings, ADMIN), client_id="sanwang-admin")
    try:
        failed = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion(name, MECHANISM, password)
            for name, password in passwords.items() if name != ADMIN])
    finally:
        admin.close()
    errors = {name: error for name, error in failed.items() if error}
    if errors:
        raise ServiceError(f"the broker refused SCRAM credentials: {errors}")


def ensure_acls(settings: HubSettings) -> None:
    """Create the hub's ACLs for this topic prefix; creating an existing ACL changes nothing."""
    admin = KafkaAdminClient(**client_config(settings, ADMIN), client_id="sanwang-admin")
    try:
        result = admin.create_acls(hub_acls(settings.topic_prefix))
    finally:
        admin.close()
    if result["failed"]:
        raise ServiceError(f"the broker refused ACLs: {result['failed'][:3]}")
