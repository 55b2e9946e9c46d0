#!/usr/bin/env bash
# Waits for the certificate nginx serves: the certs service writes the first one moments
# after it starts, and nginx starts beside it instead of after its first health check.
set -euo pipefail
dir=/etc/nginx/certs/current
limit=${CERT_WAIT_SECONDS:-120}
[[ "$limit" =~ ^[0-9]+$ ]] || {
  echo "certs: CERT_WAIT_SECONDS must be a whole number of seconds, not \"$limit\"" >&2
  exit 1
}
for ((waited = 0; ; waited++)); do
  [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ] && exit 0
  if ((waited >= limit)); then
    echo "certs: no certificate in $dir after ${limit} s; is the certs service running? (docker compose logs certs)" >&2
    exit 1
  fi
  ((waited % 10 == 0)) && echo "certs: waiting for the certs service's certificate in $dir"
  sleep 1
done
