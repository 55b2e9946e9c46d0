#!/usr/bin/env bash
# Renders the server blocks from SITE_DOMAIN (the canonical www.<domain> name and its apex)
# and APP_PATHS (which paths the app answers), for nginx-settings. Refuses a value of another form.
set -euo pipefail
domain=${SITE_DOMAIN:-www.foobar.com}
domain=${domain,,}
if ! [[ "$domain" =~ ^www\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
  echo "site: SITE_DOMAIN must be a name of the form www.<your domain> (e.g. www.foobar.com), not \"$domain\"" >&2
  exit 1
fi
paths=${APP_PATHS:-api}
case "$paths" in
  api | all) ;;
  *)
    echo "site: APP_PATHS must be api (the app answers /api/, files the rest) or all (every path that is not a file), not \"$paths\"" >&2
    exit 1
    ;;
esac
# shellcheck disable=SC2016 # envsubst is given the variable names, not their values
SITE_DOMAIN=$domain SITE_APEX=${domain#www.} APP_PATHS=$paths envsubst '${SITE_DOMAIN} ${SITE_APEX} ${APP_PATHS}' \
  </etc/nginx/site/site.conf.template >"${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/runtime}/site.conf"
echo "site: serving $domain (apex ${domain#www.}), the app answering $([ "$paths" = all ] && echo "every path that is not a file" || echo "/api/")"
