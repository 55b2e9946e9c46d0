#!/usr/bin/env bash
# Build step of the nginx image, run on a copy of the web root (STATIC_DIR):
# 1. each asset gets a content-hashed twin (style.<hash>.css) and the HTML pages link
#    the twin, which nginx may then let browsers cache for a year as immutable: a new
#    version is a new name. The plain names stay, for anything that links them.
# 2. every asset gets a .gz beside it for gzip_static, so nginx compresses once, here,
#    instead of on every request. Not the HTML pages: nginx writes the site's domain into
#    them as it sends them (sub_filter in nginx.conf), which a .gz would bypass.
set -euo pipefail
# A web root without CSS or JS (an app that serves its own) has nothing to fingerprint.
shopt -s nullglob
root=$1

for asset in "$root"/assets/*.css "$root"/assets/*.js; do
  name=$(basename "$asset")
  hash=$(sha256sum "$asset" | cut -c1-10)
  hashed="${name%.*}.$hash.${name##*.}"
  cp "$asset" "$root/assets/$hashed"
  find "$root" -name '*.html' -exec sed -i "s|\"/assets/$name\"|\"/assets/$hashed\"|g" {} +
  echo "fingerprinted /assets/$name as /assets/$hashed"
done

find "$root" -type f \( -name '*.css' -o -name '*.js' -o -name '*.svg' -o -name '*.json' \) \
  -exec gzip -9 --keep --no-name {} +
echo "precompressed $(find "$root" -name '*.gz' | wc -l) files"
