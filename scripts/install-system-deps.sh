#!/usr/bin/env bash
# Install the Debian packages the sandbox and the tests use: real nginx, PostgreSQL, Redis, their
# Prometheus exporters, promtool (in package prometheus) and Chromium (the HTML report test opens
# report.html in it, headless). Runs only as root on a Debian-like system; elsewhere it says what
# to install and exits 0, and the sandbox falls back to simulated servers (tests that need a real
# binary skip with that reason).
set -euo pipefail

packages=(nginx-light postgresql redis-server prometheus prometheus-postgres-exporter
          prometheus-redis-exporter chromium)
binaries=(/usr/sbin/nginx /usr/lib/postgresql/*/bin/postgres /usr/bin/redis-server /usr/bin/promtool
          /usr/bin/prometheus-postgres-exporter /usr/bin/prometheus-redis-exporter
          /usr/bin/chromium)

missing=0
for binary in "${binaries[@]}"; do
    # shellcheck disable=SC2086 # the PostgreSQL path is a glob on purpose
    if ! ls $binary >/dev/null 2>&1; then missing=1; fi
done
if [ "$missing" = 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: install these Debian packages for the real servers: ${packages[*]}" >&2
    exit 0
fi

# Installing a server package would start its system service; the sandbox starts its own
# instances on loopback instead, so keep the package scripts from starting anything.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
if [ "$created_policy" = 1 ]; then
    rm -f "$policy"
fi
