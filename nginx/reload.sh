#!/bin/sh
# Reloads nginx gracefully and returns once every old worker has finished its requests and
# exited, so nothing still holds a keep-alive connection made under the old configuration.
# Run inside the nginx container after the configuration passed nginx -t.
#
#   nginx-reload [TIMEOUT]   TIMEOUT: whole seconds to wait for the old workers (default 60)
#
# Prints "N old workers drained in S s". Exit status: 0 done, 1 old workers left, 2 bad usage.
set -eu

timeout=${1:-60}
case "$timeout" in
  '' | *[!0-9]*) printf 'nginx-reload: the timeout must be whole seconds, got "%s"\n' "$timeout" >&2 && exit 2 ;;
esac

# Workers title themselves "nginx: worker process" (", is shutting down" while draining);
# [s] keeps grep from matching its own command line.
worker_pids() {
  grep -ls 'nginx: worker proces[s]' /proc/[0-9]*/cmdline 2>/dev/null | sed 's|^/proc/\([0-9]*\)/cmdline$|\1|' || true
}

# Hundredths of a second since boot: sub-second timing without non-POSIX date formats.
now_cs() {
  read -r uptime _ </proc/uptime
  echo "${uptime%.*}${uptime#*.}"
}

old=" $(worker_pids | tr '\n' ' ')"
started=$(now_cs)
nginx -s reload
deadline=$((started + timeout * 100))
while :; do
  current=$(worker_pids)
  remaining=""
  fresh=0
  for pid in $current; do
    case "$old" in
      *" $pid "*) remaining="$remaining $pid" ;;
      *) fresh=$((fresh + 1)) ;;
    esac
  done
  [ -z "$remaining" ] && [ "$fresh" -gt 0 ] && break
  if [ "$(now_cs)" -ge "$deadline" ]; then
    printf 'nginx-reload: old nginx workers still running %s s after the reload:%s\n' "$timeout" "${remaining:- none, but no new worker started}" >&2
    exit 1
  fi
  sleep 0.1
done
elapsed=$(($(now_cs) - started))
# shellcheck disable=SC2086 # one pid per word
count=$(set -- $old && echo "$#")
printf '%s old workers drained in %d.%d s\n' "$count" "$((elapsed / 100))" "$(((elapsed % 100) / 10))"
