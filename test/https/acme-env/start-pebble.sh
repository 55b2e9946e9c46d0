#!/usr/bin/env bash
# Pebble with an API certificate made here for the address it is reached at, resolving
# names through the test's DNS server. Keeps its API certificate across restarts (the
# certs service trusts it); Pebble's issuing root changes at every start, as it does.
set -euo pipefail
address=$1 dns=$2 validity=$3
mkdir -p /pebble && cd /pebble
if [ ! -f cert.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pebble \
    -addext "subjectAltName=IP:$address,DNS:pebble" -keyout key.pem -out cert.pem 2>/dev/null
fi
cat >config.json <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "/pebble/cert.pem", "privateKey": "/pebble/key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "certificateValidityPeriod": $validity}}
JSON
exec pebble -config /pebble/config.json -dnsserver "$dns:53"
