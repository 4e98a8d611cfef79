#!/usr/bin/env bash
# Formats the storage of the Kafka broker of deploy/compose and deploy/k8s before it first starts,
# as deploy/kafka_broker.py formats the local broker's, with the SCRAM-SHA-256 credential of every
# principal of deploy/kafka_auth.py: the broker authenticates them from its first start (the
# apache/kafka image's own entry point formats without credentials, and then nobody could log in
# to add them). Runs before every start of the broker; formatted storage is left as it is, so a
# principal added later needs its credential from kafka-configs.sh (deploy/DEPLOYING.md).
#
# Environment: the broker's CLUSTER_ID and KAFKA_* variables (the image turns them into
# server.properties: KAFKA_LOG_DIRS is log.dirs); HUB_KAFKA_PRINCIPALS, the principals separated
# by spaces (the manifests list deploy/kafka_auth.py's principals(): admin, processor and every
# declared department); and HUB_KAFKA_<PRINCIPAL>_PASSWORD for each of them, from the
# deployment's secrets.
set -euo pipefail

config=$(mktemp)
cat > "$config" <<EOF
process.roles=${KAFKA_PROCESS_ROLES}
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}
controller.listener.names=${KAFKA_CONTROLLER_LISTENER_NAMES}
listeners=${KAFKA_LISTENERS}
listener.security.protocol.map=${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP}
inter.broker.listener.name=${KAFKA_INTER_BROKER_LISTENER_NAME}
log.dirs=${KAFKA_LOG_DIRS}
EOF

read -ra principals <<< "${HUB_KAFKA_PRINCIPALS:?the principals to give credentials to}"
credentials=()
for principal in "${principals[@]}"; do
  password="HUB_KAFKA_${principal^^}_PASSWORD"
  : "${!password:?is not set: $password}"
  credentials+=(--add-scram "SCRAM-SHA-256=[name=${principal},password=${!password}]")
done

exec /opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID}" \
  --config "$config" "${credentials[@]}"
