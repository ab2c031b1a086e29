#!/usr/bin/env bash
# A MariaDB server on 127.0.0.1:3306 for dlt's sqlalchemy destination; prints its SQLAlchemy URL on stdout.
# Idempotent: installs Debian's server if missing, initialises the datadir, starts mariadbd (as the
# `mysql` user, daemonised, since policy-rc.d usually forbids init scripts in containers), then
# creates the user and database. The user gets ALL on *.* because dlt creates one database per dataset.
# Run as root (the server's root account authenticates over the unix socket).
set -euo pipefail

USER_NAME=syncruns
PASSWORD=syncruns
DATABASE=syncruns_test
PORT=3306
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
PIDFILE=/run/mysqld/mysqld.pid
LOG=/var/log/mysql/syncruns-mariadbd.log

if ! command -v mariadbd >/dev/null 2>&1; then
  echo "installing mariadb-server (apt)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >&2
fi

mkdir -p /run/mysqld "$(dirname "$LOG")"
chown mysql:mysql /run/mysqld "$(dirname "$LOG")"

ping_socket() { mariadb-admin --protocol=socket --socket="$SOCKET" -uroot ping >/dev/null 2>&1; }

if ! ping_socket; then
  if [ ! -d "$DATADIR/mysql" ]; then
    echo "initialising $DATADIR" >&2
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
      --auth-root-authentication-method=socket >&2
  fi
  echo "starting mariadbd (log: $LOG)" >&2
  # setsid + nohup: the server outlives this script and its terminal.
  setsid nohup mariadbd --user=mysql --datadir="$DATADIR" --socket="$SOCKET" \
    --pid-file="$PIDFILE" --bind-address=127.0.0.1 --port="$PORT" \
    --skip-name-resolve --log-error="$LOG" </dev/null >>"$LOG" 2>&1 &
  for _ in $(seq 1 120); do
    ping_socket && break
    sleep 0.5
  done
fi
if ! ping_socket; then
  echo "mariadbd did not come up; tail of $LOG:" >&2
  tail -n 30 "$LOG" >&2 || true
  exit 1
fi

as_root() { mariadb --protocol=socket --socket="$SOCKET" -uroot -N -B "$@"; }
for HOST in 127.0.0.1 localhost; do
  as_root -e "CREATE USER IF NOT EXISTS '$USER_NAME'@'$HOST' IDENTIFIED BY '$PASSWORD';
    ALTER USER '$USER_NAME'@'$HOST' IDENTIFIED BY '$PASSWORD';
    GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'$HOST';" >&2
done
as_root -e "CREATE DATABASE IF NOT EXISTS \`$DATABASE\`;" >&2

# Named time zones (SET time_zone = 'Pacific/Kiritimati') need the mysql.time_zone* tables;
# numeric offsets only reach -12:59..+13:00 on MariaDB, so '+14:00' is not an option.
if [ "$(as_root -e "SELECT COUNT(*) FROM mysql.time_zone_name")" = "0" ]; then
  if [ -d /usr/share/zoneinfo ]; then
    echo "loading time zone tables from /usr/share/zoneinfo" >&2
    mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | as_root mysql >&2
  else
    echo "no /usr/share/zoneinfo (tzdata): named time zones unavailable" >&2
  fi
fi

# Check the TCP path the tests use, with the credentials we print.
mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$PORT" -u"$USER_NAME" -p"$PASSWORD" ping >&2
echo "mysql+pymysql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
