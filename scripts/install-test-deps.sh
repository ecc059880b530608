#!/usr/bin/env bash
# Installs what the tests need and a fresh machine lacks: Prometheus' tools and servers, Chromium
# for the status page test, and a Python virtualenv with the official Gemini SDK and the schema
# checkers of the deployment tests. Safe to run again: it only installs what is missing.
# kubectl (with kustomize v5) comes with the machine image; Debian's kubernetes-client is too old.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v promtool >/dev/null || apt_packages+=(prometheus)
command -v amtool >/dev/null || apt_packages+=(prometheus-alertmanager)
command -v chromium >/dev/null || apt_packages+=(chromium)

if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "installing Debian packages: ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
fi

# The Debian packages start their services on install; the tests start their own on free ports.
for service in prometheus prometheus-alertmanager prometheus-node-exporter; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" || true
  fi
done

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
