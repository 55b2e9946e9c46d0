#!/usr/bin/env bash
# nginx's settings (rate limits, the site's domain, which paths the app answers, the /status
# password) rendered into its runtime configuration: from the container's environment, and
# from a settings file where one is mounted (a server's stack: scripts/vps setup writes it),
# whose values win. A file, unlike the environment, can change without a new container.
#
#   nginx-settings render   write the runtime configuration (at container start)
#   nginx-settings apply    the same while nginx runs: check it with nginx -t, then reload
#                           gracefully (old workers finish their requests); a configuration
#                           nginx rejects is put back as it was, and nginx keeps serving it
#
# Exit status: 0 done, 1 refused or failed (the running configuration unchanged), 2 bad usage.
set -euo pipefail
settings_file=${NGINX_SETTINGS_FILE:-/etc/nginx/settings.env}
runtime=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/runtime}
here=/etc/nginx/settings

render() {
  if [ -f "$settings_file" ]; then
    set -a
    # shellcheck disable=SC1090 # written by scripts/vps setup: KEY=VALUE lines
    . "$settings_file"
    set +a
  fi
  "$here/site.sh"
  "$here/status-password.sh"
  NGINX_ENVSUBST_TEMPLATE_DIR=$here NGINX_ENVSUBST_OUTPUT_DIR=$runtime /docker-entrypoint.d/20-envsubst-on-templates.sh
}

apply() {
  local before problem
  before=$(mktemp -d)
  cp -a "$runtime/." "$before/"
  if ! problem=$( (render >/dev/null) 2>&1 && nginx -t -q 2>&1); then
    find "$runtime" -mindepth 1 -delete
    cp -a "$before/." "$runtime/"
    rm -rf "$before"
    printf '%s\n' "$problem" >&2
    echo "nginx-settings: nginx refused the new settings; it keeps serving the previous ones" >&2
    exit 1
  fi
  rm -rf "$before"
  echo "nginx-settings: new settings live, $(nginx-reload)"
}

case "${1:-}" in
  render) render ;;
  apply) apply ;;
  *)
    echo "usage: nginx-settings render | nginx-settings apply" >&2
    exit 2
    ;;
esac
