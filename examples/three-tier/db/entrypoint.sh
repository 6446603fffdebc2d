#!/bin/sh
# First start: create the system tables, set the root password, create MYSQL_DATABASE and MYSQL_USER.
# Later starts find the data in the named volume and go straight to the server.
set -eu
DATADIR=/var/lib/mysql
mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$DATADIR"
if [ ! -d "$DATADIR/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}"
  echo "initialising $DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db >/dev/null
  mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  i=0
  until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 60 ] || { echo "mariadbd did not start" >&2; exit 1; }
    sleep 1
  done
  mariadb --socket=/run/mysqld/init.sock <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE:-app}\`;
CREATE USER IF NOT EXISTS '${MYSQL_USER:-app}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD:-}';
GRANT ALL ON \`${MYSQL_DATABASE:-app}\`.* TO '${MYSQL_USER:-app}'@'%';
FLUSH PRIVILEGES;
SQL
  kill "$pid"
  wait "$pid" || true
  echo "initialised"
fi
exec mariadbd --user=mysql --datadir="$DATADIR" --bind-address=0.0.0.0
