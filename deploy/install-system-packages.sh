#!/usr/bin/env bash
# Debian packages the hub's local stack needs: Java 17 and Maven (to fetch and run Apache Kafka),
# PostgreSQL, Prometheus (with promtool); Chromium for the console's test. Installs only what is
# missing; needs root or sudo.
set -euo pipefail

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)  # the console's end-to-end test
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)  # readable Chinese
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts a system PostgreSQL cluster and Prometheus on install; the hub runs its own.
$sudo systemctl disable --now prometheus postgresql >/dev/null 2>&1 || true
