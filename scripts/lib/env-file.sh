#!/usr/bin/env bash
# Writes .env with random passwords when it is missing (mode 600, never committed), and
# checks and records the app choice (APP_DIR or APP_IMAGE, its migrations, its paths). Source this file, then call
# check_app_choice PATH before anything starts, ensure_env_file PATH after ensure_images,
# then record_app_choice PATH.
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
    # And the Debian image an app may build on, so that plain docker compose builds it as scripts/up does.
    if ! grep -q '^DEBIAN_IMAGE=' "$file"; then printf 'DEBIAN_IMAGE=%s\n' "$DEBIAN_IMAGE" >>"$file"; fi
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
DEBIAN_IMAGE=$DEBIAN_IMAGE
IMAGE_TAG=latest
LOG_LEVEL=info
ENV
  )
}

# Reads one variable from an env file without executing it.
env_file_value() { # file, name
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

# Sets NAME=value in an env file, in place of any earlier line of that name (mode 600 kept).
env_file_set() { # file, name, value
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  grep -v "^$2=" "$1" >"$tmp" || true
  printf '%s=%s\n' "$2" "$3" >>"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$1"
}

# The compose files that run the app from a ready image (COMPOSE_FILE, which compose reads from .env).
APP_IMAGE_COMPOSE_FILE=docker-compose.yml:docker-compose.app-image.yml
# An image reference as Docker takes it: [registry[:port]/]name[/name...][:tag][@sha256:digest].
IMAGE_REF='^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$'

# The app the stack runs: APP_DIR (a folder with a Dockerfile, relative to the repository)
# or APP_IMAGE (a ready image), its migrations and which paths nginx sends it (APP_PATHS),
# from the environment, else from the env file; the sample's folder when neither. Sets
# APP_DIR, APP_IMAGE, APP_MIGRATIONS and APP_PATHS; exits saying what to do when the choice
# cannot work, before anything is built or started.
check_app_choice() { # env file
  local file=$1 saved_dir='' saved_image='' saved_migrations='' saved_paths='' migrations
  if [ -f "$file" ]; then
    saved_dir=$(env_file_value "$file" APP_DIR)
    saved_image=$(env_file_value "$file" APP_IMAGE)
    saved_migrations=$(env_file_value "$file" APP_MIGRATIONS)
    saved_paths=$(env_file_value "$file" APP_PATHS)
  fi
  APP_DIR=${APP_DIR-$saved_dir}
  APP_IMAGE=${APP_IMAGE-$saved_image}
  APP_MIGRATIONS=${APP_MIGRATIONS-$saved_migrations}
  APP_PATHS=${APP_PATHS-$saved_paths}
  if [ -n "$APP_DIR" ] && [ -n "$APP_IMAGE" ]; then
    die "APP_DIR ($APP_DIR) and APP_IMAGE ($APP_IMAGE) are both set: the app is either a folder to build or a ready image; unset one (in the environment or in $file)"
  fi
  if [ -n "$APP_DIR" ] && [ ! -f "$APP_DIR/Dockerfile" ]; then
    die "APP_DIR=$APP_DIR: no Dockerfile in that folder; point APP_DIR at your app's folder (it needs a Dockerfile), or unset it for the sample app"
  fi
  if [ -n "$APP_IMAGE" ] && ! grep -Eq "$IMAGE_REF" <<<"$APP_IMAGE"; then
    die "APP_IMAGE=$APP_IMAGE is not an image name; use one as docker pull takes it, e.g. registry.example.com/team/app:1.2"
  fi
  # The folder of SQL files the migrate service applies: compose cannot mount a missing one.
  if [ -n "$APP_IMAGE" ] && [ -z "$APP_MIGRATIONS" ]; then
    die "APP_IMAGE is set but APP_MIGRATIONS is not: set it to your app's folder of SQL migrations (an empty folder if it has none)"
  fi
  migrations=${APP_MIGRATIONS:-${APP_DIR:-./app}/migrations}
  if [ ! -d "$migrations" ]; then
    die "$migrations: no such folder; the stack applies your app's SQL migrations from it: create it (it may stay empty) or set APP_MIGRATIONS to the folder they are in"
  fi
  # nginx would refuse it only at start, after the build.
  case $APP_PATHS in
    '' | api | all) ;;
    *) die "APP_PATHS=$APP_PATHS: use api (the app answers /api/, the rest are static files) or all (the app renders its own pages, / included)" ;;
  esac
  export APP_DIR APP_IMAGE APP_MIGRATIONS APP_PATHS
}

# Records check_app_choice's result in the env file, so that plain docker compose runs the
# same app: APP_DIR, APP_IMAGE, APP_MIGRATIONS, APP_PATHS, and COMPOSE_FILE with the ready image's override (a
# COMPOSE_FILE of the user's own is left alone when the override is not needed).
record_app_choice() { # env file
  local file=$1
  env_file_set "$file" APP_DIR "$APP_DIR"
  env_file_set "$file" APP_IMAGE "$APP_IMAGE"
  env_file_set "$file" APP_MIGRATIONS "$APP_MIGRATIONS"
  env_file_set "$file" APP_PATHS "$APP_PATHS"
  if [ -n "$APP_IMAGE" ]; then
    env_file_set "$file" COMPOSE_FILE "$APP_IMAGE_COMPOSE_FILE"
  elif [ "$(env_file_value "$file" COMPOSE_FILE)" = "$APP_IMAGE_COMPOSE_FILE" ]; then
    env_file_set "$file" COMPOSE_FILE docker-compose.yml
  fi
}
