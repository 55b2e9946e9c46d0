#!/bin/sh
# Which app port nginx proxies /api/ to: the one switch a deploy makes, run inside the
# nginx container (docker exec <nginx> switch-upstream PORT).
#
#   switch-upstream PORT   point the upstream at 127.0.0.1:PORT, check the config, reload,
#                          and return once every old worker has drained and exited (so no
#                          keep-alive connection to the previous app is left; nginx-reload)
#   switch-upstream --show print the live port
#
# Exit status: 0 done, 1 failed (nothing changed if nginx rejected the config), 2 bad usage.
# SWITCH_TIMEOUT_SECONDS (default 60) bounds the wait for the old workers.
set -eu

UPSTREAM_FILE=/etc/nginx/upstream/app-server.conf

usage() {
  printf '%s\n' "usage: switch-upstream PORT | switch-upstream --show" >&2
  exit 2
}

fail() {
  printf 'switch-upstream: %s\n' "$1" >&2
  exit 1
}

live_port() {
  sed -n 's/^[[:space:]]*server[[:space:]][[:space:]]*127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$UPSTREAM_FILE" | head -n 1
}

[ "$#" -eq 1 ] || usage

if [ "$1" = "--show" ]; then
  port=$(live_port)
  [ -n "$port" ] || fail "$UPSTREAM_FILE names no app server"
  echo "$port"
  exit 0
fi

port=$1
case "$port" in
  '' | *[!0-9]* | 0*) printf 'switch-upstream: port must be a number from 1 to 65535, got "%s"\n' "$port" >&2 && exit 2 ;;
esac
if [ "${#port}" -gt 5 ] || [ "$port" -gt 65535 ]; then
  printf 'switch-upstream: port must be a number from 1 to 65535, got "%s"\n' "$port" >&2
  exit 2
fi

timeout=${SWITCH_TIMEOUT_SECONDS:-60}
case "$timeout" in
  '' | *[!0-9]*) printf 'switch-upstream: SWITCH_TIMEOUT_SECONDS must be whole seconds, got "%s"\n' "$timeout" >&2 && exit 2 ;;
esac

# The new file replaces the old in one rename, so nginx never reads half of it.
cp -p "$UPSTREAM_FILE" "$UPSTREAM_FILE.old"
printf '%s\n' '# The live app instance, written by switch-upstream (nginx/switch-upstream.sh).' \
  "server 127.0.0.1:$port;" >"$UPSTREAM_FILE.new"
mv "$UPSTREAM_FILE.new" "$UPSTREAM_FILE"
if ! check=$(nginx -t -q 2>&1); then
  mv "$UPSTREAM_FILE.old" "$UPSTREAM_FILE"
  printf '%s\n' "$check" >&2
  fail "nginx rejected the configuration; the upstream is unchanged"
fi
rm -f "$UPSTREAM_FILE.old"

drained=$(nginx-reload "$timeout") || exit 1
printf 'upstream: 127.0.0.1:%s live, %s\n' "$port" "$drained"
