#!/usr/bin/env bash
# Runs as root on the server: writes STACK_DIR/.env from the settings on stdin (KEY=VALUE
# lines, no secrets) and the passwords (the database's, /status's), generated here the first
# time and kept afterwards, so they never leave the server. Prints "ok:" or "changed:" with
# the names of the settings that changed, never their values, and "removed:" with the names
# of the settings the earlier .env had that these settings no longer name.
set -euo pipefail
stack_dir=$1
umask 077
mkdir -p "$stack_dir"
file=$stack_dir/.env
settings=$(cat)
secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }
kept() { [ -f "$file" ] && sed -n "s/^$1=//p" "$file" | head -n 1; }
root_pw=$(kept MYSQL_ROOT_PASSWORD || true)
app_pw=$(kept MYSQL_PASSWORD || true)
status_pw=$(kept STATUS_PASSWORD || true)
new_secrets=
[ -n "$root_pw" ] || { root_pw=$(secret); new_secrets=yes; }
[ -n "$app_pw" ] || { app_pw=$(secret); new_secrets=yes; }
# A password given with --set STATUS_PASSWORD=… (in the settings) wins over a generated one.
if grep -q '^STATUS_PASSWORD=' <<<"$settings"; then
  status_line=
else
  [ -n "$status_pw" ] || { status_pw=$(secret); new_secrets=yes; }
  status_line="STATUS_PASSWORD=$status_pw
"
fi
content="# Written by webstack's scripts/vps setup. The passwords were generated on this server.
MYSQL_ROOT_PASSWORD=$root_pw
MYSQL_PASSWORD=$app_pw
$status_line$settings"
if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then
  echo "ok: $file is up to date"
else
  # Lines added, removed or changed, by name (a changed value shows as one line out, one in).
  changed=$( { diff <(cat "$file" 2>/dev/null) <(printf '%s\n' "$content") || true; } |
    sed -n 's/^[<>] \([A-Z][A-Z0-9_]*\)=.*/\1/p' | sort -u | paste -sd ' ')
  names() { sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' | sort -u; }
  removed=$(comm -23 <([ ! -f "$file" ] || names <"$file") <(printf '%s\n' "$content" | names) | paste -sd ' ')
  [ -z "$removed" ] || echo "removed: $removed"
  printf '%s\n' "$content" >"$file.new"
  chmod 600 "$file.new"
  mv "$file.new" "$file"
  if [ -n "$new_secrets" ]; then
    echo "changed: wrote $file with passwords generated on the server, which alone keeps them (mode 600)"
  else
    echo "changed: updated the settings ${changed// /, } in $file; passwords kept"
  fi
fi
