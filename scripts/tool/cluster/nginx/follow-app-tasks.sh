#!/usr/bin/env bash
# Swarm only (a Docker config in stack.yml, run by the nginx image's entrypoint): nginx 1.26
# resolves upstream names once, at start or reload, so this follows the app replicas in
# DNS (APP_TASKS, e.g. tasks.app on Docker's resolver) and, when the set of addresses
# changes, rewrites the upstream's server list, checks it and reloads nginx gracefully
# (old workers finish their requests). New and removed replicas are seen within
# APP_TASKS_POLL_SECONDS. With no replica found, the list is one address that refuses, so
# /api/ answers nginx's JSON 502 until replicas appear.
set -euo pipefail
name=${APP_TASKS:?APP_TASKS must name the DNS name of the app replicas}
port=${APP_PORT:-5000}
interval=${APP_TASKS_POLL_SECONDS:-1}
list=/etc/nginx/upstream/app-tasks.conf

addresses() { getent ahostsv4 "$name" | awk '{ print $1 }' | sort -u; }

render() { # addresses...
  {
    echo "# Written by follow-app-tasks.sh from $name"
    if [ $# -eq 0 ]; then
      echo "server 127.0.0.1:9 down;"
    else
      # max_fails=0: a refused connection moves the request on without benching the
      # replica for fail_timeout; DNS, not nginx's guess, says which replicas exist.
      for address in "$@"; do echo "server $address:$port max_fails=0;"; done
    fi
  } >"$list.tmp"
  mv "$list.tmp" "$list"
}

# Empty answers in a row before believing them: a lookup that fails or times out on a busy
# node (Docker's resolver under load) is not a service scaled to zero, and believing it
# would turn every /api/ request into a 502 until the next good answer.
empty_answers_to_believe=5

follow() {
  local seen=$1 now empty_answers=0
  while sleep "$interval"; do
    now=$(addresses || true)
    if [ -z "$now" ]; then
      empty_answers=$((empty_answers + 1))
      [ "$empty_answers" -lt "$empty_answers_to_believe" ] && continue
    else
      empty_answers=0
    fi
    [ "$now" = "$seen" ] && continue
    # shellcheck disable=SC2086 # one address per word
    render $now
    if nginx -t -q 2>/dev/null && nginx -s reload; then
      echo "app-tasks: now $(wc -w <<<"$now") replica(s): ${now//$'\n'/ }" >&2
      seen=$now
    else
      echo "app-tasks: nginx refused the new list; retrying" >&2
    fi
  done
}

initial=$(addresses || true)
# shellcheck disable=SC2086
render $initial
echo "app-tasks: following $name every ${interval}s, starting with: ${initial:-none}"
follow "$initial" </dev/null &
