#!/usr/bin/env bash
# Formats the storage of the Kafka broker of deploy/compose and deploy/k8s before it first starts,
# as deploy/kafka_broker.py formats the local broker's, with the SCRAM-SHA-256 credential of every
# principal of deploy/kafka_auth.py: the broker authenticates them from its first start (the
# apache/kafka image's own entry point formats without credentials, and then nobody could log in
# to add them). Runs before every start of the broker; formatted storage is left as it is.
#
# Environment: the broker's CLUSTER_ID and KAFKA_* variables (the image turns them into
# server.properties: KAFKA_LOG_DIRS is log.dirs), and HUB_KAFKA_<PRINCIPAL>_PASSWORD for each
# principal, from the deployment's secrets.
set -euo pipefail

config=/tmp/format-storage.properties
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

credentials=()
for principal in admin processor police civil_affairs social_security; do
  password="HUB_KAFKA_${principal^^}_PASSWORD"
  credentials+=(--add-scram "SCRAM-SHA-256=[name=${principal},password=${!password}]")
done

exec /opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID}" \
  --config "$config" "${credentials[@]}"
