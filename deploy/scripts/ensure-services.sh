#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1. Uses running servers
# when present; otherwise starts installed ones; otherwise installs them
# from Debian's packages (apt-get) and starts them.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "service on port $1 did not come up" >&2; return 1
}

# --- PostgreSQL -------------------------------------------------------------
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "Installing PostgreSQL (apt-get)..."
    apt_install postgresql
    # Local development: trust TCP connections from this machine only, as the
    # DATABASE_URL default (postgres@127.0.0.1, no password) expects.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      if ! grep -q "gaji-local-trust" "$hba"; then
        $SUDO sed -i '1i host all all 127.0.0.1/32 trust # gaji-local-trust\nhost all all ::1/128 trust # gaji-local-trust' "$hba"
      fi
    done
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "Starting PostgreSQL $version..."
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432
fi

# --- Redis ------------------------------------------------------------------
if ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Redis (apt-get)..."
    apt_install redis-server
  fi
  echo "Starting Redis..."
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/gaji.log
  wait_port 6379
fi
echo "PostgreSQL and Redis are up on 127.0.0.1."
