#!/usr/bin/env bash
# As in the official image: before starting nginx, run the scripts in /docker-entrypoint.d.
set -euo pipefail
if [ "${1:-}" = nginx ]; then
  for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] && "$script"
  done
fi
exec "$@"
