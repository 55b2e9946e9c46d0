#!/usr/bin/env bash
# An authoritative BIND 9 server for one zone, given as text in $ZONE (no recursion).
set -euo pipefail
origin=$1
mkdir -p /tmp/dns && printf '%s\n' "$ZONE" >/tmp/dns/zone
cat >/tmp/dns/named.conf <<CONF
options {
  directory "/tmp/dns";
  listen-on { any; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  dnssec-validation no;
  pid-file none;
};
zone "$origin" { type primary; file "/tmp/dns/zone"; };
CONF
named-checkzone "$origin" /tmp/dns/zone
exec named -g -c /tmp/dns/named.conf
