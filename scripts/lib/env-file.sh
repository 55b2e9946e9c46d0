#!/usr/bin/env bash
# Writes .env with random passwords when it is missing (mode 600, never committed).
# Source this file, then call ensure_env_file PATH after ensure_images.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

random_secret() { # 32 characters from [A-Za-z0-9]
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

ensure_env_file() {
  local file=$1
  if [ -f "$file" ]; then
    chmod 600 "$file"
    # Files written before the status page existed get its password added once.
    if ! grep -q '^STATUS_PASSWORD=' "$file"; then
      log "adding STATUS_PASSWORD (the /status page's password) to $file"
      printf 'STATUS_PASSWORD=%s\n' "$(random_secret)" >>"$file"
    fi
    return
  fi
  log "writing $file with random passwords (mode 600)"
  (
    umask 077
    cat >"$file" <<ENV
# Written by scripts/up on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it secret; see .env.example.
HTTP_BIND=${HTTP_BIND:-0.0.0.0}
HTTP_PORT=${HTTP_PORT:-80}
HTTPS_PORT=${HTTPS_PORT:-443}
SITE_DOMAIN=${SITE_DOMAIN:-www.foobar.com}
ACME_EMAIL=${ACME_EMAIL:-}
ACME_DIRECTORY=${ACME_DIRECTORY:-}
MYSQL_DATABASE=webstack
MYSQL_USER=webstack
MYSQL_PASSWORD=$(random_secret)
MYSQL_ROOT_PASSWORD=$(random_secret)
STATUS_PASSWORD=$(random_secret)
MYSQL_IMAGE=$MYSQL_IMAGE
NGINX_IMAGE=$NGINX_IMAGE
NODE_IMAGE=$NODE_IMAGE
IMAGE_TAG=latest
LOG_LEVEL=info
ENV
  )
}

# Reads one variable from an env file without executing it.
env_file_value() { # file, name
  sed -n "s/^$2=//p" "$1" | tail -n 1
}
