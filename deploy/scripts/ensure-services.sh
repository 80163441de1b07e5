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
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

if ! port_open 5432; then
  if [ -z "$(pg_version)" ]; then
    echo "Installing PostgreSQL (apt-get)..."
    apt_install postgresql
  fi
  echo "Starting PostgreSQL $(pg_version)..."
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start || true
  wait_port 5432
fi

# The default DATABASE_URL (postgres@127.0.0.1, no password) needs trust auth
# for local TCP connections. Debian's packages ask for a password there, so on
# a machine we set up ourselves, trust this machine only, and reload.
if command -v psql >/dev/null 2>&1 && \
   { [ -z "${DATABASE_URL:-}" ] || [ "${DATABASE_URL}" = "postgresql://postgres@127.0.0.1:5432/gaji" ]; }; then
  if ! PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
    version=$(pg_version)
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -n "$version" ] && [ -f "$hba" ] && ! grep -q "gaji-local-trust" "$hba"; then
      echo "Allowing local TCP connections as postgres without a password ($hba)..."
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust # gaji-local-trust\nhost all all ::1/128 trust # gaji-local-trust' "$hba"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
      sleep 1
    fi
    if ! PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
      echo "Cannot connect to PostgreSQL as postgres@127.0.0.1; set DATABASE_URL to a working URL." >&2
      exit 1
    fi
  fi
fi

# The RUM index (scenario search, core migration scenarios 0006) needs the
# extension's files on the PostgreSQL server: Debian's postgresql-<major>-rum.
if command -v psql >/dev/null 2>&1; then
  pg_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/gaji}"
  pg_admin_url="${pg_url%/*}/postgres"
  has_rum=$(PGCONNECT_TIMEOUT=5 psql "$pg_admin_url" -tAc "SELECT count(*) FROM pg_available_extensions WHERE name = 'rum'" 2>/dev/null || echo "?")
  if [ "$has_rum" = "0" ]; then
    major=$(PGCONNECT_TIMEOUT=5 psql "$pg_admin_url" -tAc "SELECT current_setting('server_version_num')::int / 10000")
    echo "Installing the RUM extension for PostgreSQL $major (apt-get postgresql-$major-rum)..."
    apt_install "postgresql-$major-rum"
  fi
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
