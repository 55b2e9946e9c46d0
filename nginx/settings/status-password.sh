#!/usr/bin/env bash
# Writes the /status password file from STATUS_PASSWORD (user "status"), hashed with
# SHA-512 crypt by perl, which every Debian image has. Without a password the file is
# empty and every request for /status gets 401: the page stays closed by default.
set -euo pipefail
file=/etc/nginx/runtime/status.htpasswd
umask 027
if [ -n "${STATUS_PASSWORD:-}" ]; then
  salt=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 16 || true)
  STATUS_SALT=$salt perl -e 'print "status:", crypt($ENV{STATUS_PASSWORD}, "\$6\$$ENV{STATUS_SALT}\$"), "\n"' >"$file"
else
  : >"$file"
fi
chgrp nginx "$file"
