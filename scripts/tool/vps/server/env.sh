#!/usr/bin/env bash
# Runs as root on the server: writes STACK_DIR/.env from the settings on stdin (KEY=VALUE
# lines, no secrets) and the passwords (the database's, /status's), generated here the first
# time and kept afterwards, so they never leave the server. Prints "ok:" or "changed:" with
# the names of the settings that changed, never their values ("settings:" lists them), and
# "removed:" with the names of the settings the earlier .env had that these settings no
# longer name. Beside it, nginx.env: nginx's settings (the arguments after STACK_DIR,
# NAME=DEFAULT each, the default for a setting .env does not have), which nginx reads from
# that file; "nginx: settings changed" when they did. The files each replaced are kept as
# *.previous, for setup to put back when the change is refused.
set -euo pipefail
stack_dir=$1
shift
umask 077
mkdir -p "$stack_dir"
file=$stack_dir/.env
nginx_file=$stack_dir/nginx.env
# Only this run's: a refused change puts back what this run replaced, nothing older.
rm -f "$file.previous" "$nginx_file.previous"
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
  echo "settings: $changed"
  [ ! -f "$file" ] || cp -p "$file" "$file.previous"
  printf '%s\n' "$content" >"$file.new"
  chmod 600 "$file.new"
  mv "$file.new" "$file"
  if [ -n "$new_secrets" ]; then
    echo "changed: wrote $file with passwords generated on the server, which alone keeps them (mode 600)"
  else
    echo "changed: updated the settings ${changed// /, } in $file; passwords kept"
  fi
fi
nginx_content="# nginx's settings, written by webstack's scripts/vps setup from .env (and the defaults)."
for setting in "$@"; do
  name=${setting%%=*}
  line=$(printf '%s\n' "$content" | grep -m 1 "^$name=" || true)
  nginx_content+=$'\n'"${line:-$setting}"
done
if [ ! -f "$nginx_file" ] || [ "$(cat "$nginx_file")" != "$nginx_content" ]; then
  if [ -f "$nginx_file" ]; then
    cp -p "$nginx_file" "$nginx_file.previous"
    echo "nginx: settings changed"
  fi
  # In place, not renamed over: nginx's container has this very file bind-mounted, and a
  # new file at the path would stay unseen there.
  printf '%s\n' "$nginx_content" >"$nginx_file"
fi
