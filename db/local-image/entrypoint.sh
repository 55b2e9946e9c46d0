#!/usr/bin/env bash
# Same contract as the official mysql image: on an empty data directory, initialise it
# with MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD, using a
# temporary server with networking off, so TCP health checks fail until init is done.
set -euo pipefail

datadir=/var/lib/mysql
socket=/run/mysqld/init.sock

# As in the official image: VAR_FILE names a file holding VAR (Docker secrets).
file_env() {
  local name=$1 file_name="${1}_FILE"
  if [ -n "${!file_name:-}" ]; then
    [ -z "${!name:-}" ] || { echo "entrypoint: set $name or $file_name, not both" >&2; exit 1; }
    export "$name"="$(<"${!file_name}")"
  fi
}
for variable in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD; do file_env "$variable"; done

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

initialise() {
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD must be set to initialise the database}"
  echo "entrypoint: initialising a new data directory"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
  local pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" ping >/dev/null 2>&1 && break
    sleep 1
  done
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$MYSQL_ROOT_PASSWORD");"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\` CHARACTER SET utf8mb4;"
    fi
    if [ -n "${MYSQL_USER:-}" ]; then
      echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "${MYSQL_PASSWORD:?MYSQL_PASSWORD must be set with MYSQL_USER}");"
      [ -n "${MYSQL_DATABASE:-}" ] && echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_string "$MYSQL_USER")@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$socket" -uroot
  # As the official image does: shut down over the socket. A signal would need CAP_KILL,
  # which the hardened container does not have (the server runs as another user).
  MYSQL_PWD=$MYSQL_ROOT_PASSWORD mariadb-admin --socket="$socket" -uroot shutdown
  wait "$pid"
  echo "entrypoint: initialised"
}

# As in the official image, bare options are options for the server.
if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi
if [ "${1:-}" = mariadbd ]; then
  # /run/mysqld may be a fresh tmpfs (read-only root file system).
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  [ -d "$datadir/mysql" ] || initialise
  exec mariadbd --user=mysql "${@:2}"
fi
exec "$@"
