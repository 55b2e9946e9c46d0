#!/usr/bin/env bash
# nginx's per-request lines for the monitor (log_format status_line, conf.d/status.conf),
# when STATUS_LOG names a file on the volume nginx shares with the monitor, which reads it
# once a second and empties it. Buffered: each worker writes 64 KiB at once, at least once
# a second, instead of one write per request. Unset (the Swarm stack, which runs no
# monitor; the bench's controls): no such log, so nothing grows unread.
set -euo pipefail
# Included by conf.d/status.conf after the format (not with the runtime/*.conf files,
# which nginx.conf includes before conf.d).
dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/runtime}/status-log
mkdir -p "$dir"
rm -f "$dir/access.conf"
log=${STATUS_LOG:-}
[ -n "$log" ] || exit 0
if ! [[ "$log" =~ ^/[A-Za-z0-9._/-]+$ ]]; then
  echo "status log: STATUS_LOG must be an absolute file path (letters, digits, . _ - /), not \"$log\"" >&2
  exit 1
fi
# The master opens it (as root, without CAP_DAC_OVERRIDE: as owner) with O_APPEND; the
# monitor (its image's node user, gid 1000) reads and truncates it through the group.
touch "$log"
chown 0:1000 "$log"
chmod 0660 "$log"
printf 'access_log %s status_line buffer=64k flush=1s;\n' "$log" >"$dir/access.conf"
echo "status log: $log"
