#!/usr/bin/env bash
# The official image's template contract: every $NGINX_ENVSUBST_TEMPLATE_DIR/*.template
# becomes a file in $NGINX_ENVSUBST_OUTPUT_DIR, with the defined environment variables
# (and only those) substituted, so nginx's own $variables pass through untouched.
set -euo pipefail
template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
[ -d "$template_dir" ] || exit 0
defined=$(compgen -e | sed 's/.*/${&}/' | tr '\n' ' ')
for template in "$template_dir"/*"$suffix"; do
  [ -f "$template" ] || continue
  output="$output_dir/$(basename "$template" "$suffix")"
  envsubst "$defined" <"$template" >"$output"
  echo "templates: wrote $output"
done
