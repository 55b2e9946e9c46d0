#!/usr/bin/env bash
# Starts a small watcher beside nginx: when the certs service switches
# /etc/nginx/certs/current to a new certificate, check the configuration and reload nginx
# gracefully (old workers finish their requests). No container needs the Docker socket.
set -euo pipefail
link=/etc/nginx/certs/current
interval=${CERT_WATCH_SECONDS:-5}
watch_certificate() {
  local seen now
  seen=$(readlink "$link" || true)
  while sleep "$interval"; do
    now=$(readlink "$link" || true)
    [ "$now" = "$seen" ] && continue
    seen=$now
    if nginx -t -q; then
      nginx -s reload && echo "certs: $now in place, nginx reloaded" >&2 || echo "certs: reload failed for $now" >&2
    else
      echo "certs: $now does not pass nginx -t; nginx keeps serving the previous certificate" >&2
    fi
  done
}
watch_certificate </dev/null &
echo "certs: watching $link every ${interval}s"
