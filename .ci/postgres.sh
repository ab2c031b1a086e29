#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for tests/test_postgres.py; prints its DSN on stdout.
# Idempotent: installs Debian's server if missing, creates/starts the cluster, role, database.
# The server runs as the `postgres` user (pg_ctlcluster switches to the cluster owner).
set -euo pipefail

ROLE=syncruns
PASSWORD=syncruns
DATABASE=syncruns_test

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql (apt)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION main"; then
  pg_createcluster "$VERSION" main >&2
fi
CONF_DIR=/etc/postgresql/$VERSION/main
mkdir -p "$CONF_DIR/conf.d"
echo "listen_addresses = '127.0.0.1'" > "$CONF_DIR/conf.d/syncruns.conf"
PORT=$(pg_conftool -s "$VERSION" main show port)
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $4}' | grep -qx online; then
  pg_ctlcluster "$VERSION" main start >&2
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2

as_postgres() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
as_postgres -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  END IF; END \$\$;" >&2
if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
