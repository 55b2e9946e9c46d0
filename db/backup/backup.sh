#!/usr/bin/env bash
# The backup service's program: a consistent dump of the database (--single-transaction: one
# InnoDB snapshot, no lock on the tables) streamed into a restic repository off the server,
# then the retention policy applied. Commands:
#   schedule          back up every BACKUP_SCHEDULE for as long as the container runs
#   now               one backup now; prints the snapshot
#   restore [SNAP]    replace the database with snapshot SNAP (default: the newest)
# Each writes what happened to $STATE_DIR/status.json, which scripts/vps backup status and
# the monitor read. A server whose repository holds another server's backups backs nothing
# up until it has restored them: a new, empty server must never become the newest snapshot,
# nor make retention drop the last good one.
set -euo pipefail

state_dir=${STATE_DIR:-/state}
status=$state_dir/status.json
host_file=$state_dir/host
dump_name=database.sql
: "${BACKUP_REPOSITORY:?set BACKUP_REPOSITORY}" "${BACKUP_PASSWORD:?set BACKUP_PASSWORD}"
: "${MYSQL_USER:?set MYSQL_USER}" "${MYSQL_PASSWORD:?set MYSQL_PASSWORD}" "${MYSQL_DATABASE:?set MYSQL_DATABASE}"
export RESTIC_REPOSITORY=$BACKUP_REPOSITORY RESTIC_PASSWORD=$BACKUP_PASSWORD
export RESTIC_CACHE_DIR=$state_dir/cache MYSQL_PWD=$MYSQL_PASSWORD
mkdir -p "$state_dir"
[ -s "$status" ] || echo '{}' >"$status"

# An interval: a whole number and a unit (30s, 15m, 6h, 1d). scripts/vps setup checks it
# first; this refuses too, so that a hand-edited .env fails loudly.
interval_seconds() {
  if ! [[ $1 =~ ^([1-9][0-9]*)([smhd])$ ]]; then
    echo "BACKUP_SCHEDULE=$1: give an interval such as 30s, 15m, 6h or 1d" >&2
    return 1
  fi
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in s) echo "$n" ;; m) echo $((n * 60)) ;; h) echo $((n * 3600)) ;; d) echo $((n * 86400)) ;; esac
}
schedule=${BACKUP_SCHEDULE:?set BACKUP_SCHEDULE}
interval=$(interval_seconds "$schedule")

# SSH for sftp: repositories. The key stays in memory (/tmp); the target's host key is
# trusted on first use and kept in the state volume, so a changed one is refused.
restic_options=()
if [[ $RESTIC_REPOSITORY == sftp:* ]]; then
  : "${BACKUP_SSH_KEY:?set BACKUP_SSH_KEY for an sftp: repository}"
  mkdir -p /tmp/ssh
  printf '%s\n' "$BACKUP_SSH_KEY" >/tmp/ssh/key
  chmod 600 /tmp/ssh/key
  printf '%s\n' "IdentityFile /tmp/ssh/key" "IdentitiesOnly yes" "BatchMode yes" \
    "StrictHostKeyChecking accept-new" "UserKnownHostsFile $state_dir/known_hosts" \
    "ConnectTimeout 15" "ServerAliveInterval 15" "ServerAliveCountMax 2" >/tmp/ssh/config
  restic_options=(-o "sftp.args=-F /tmp/ssh/config")
fi

# As the app's user over loopback (it owns the database; root may log in only over the
# database container's own socket), without TLS certificate checks on loopback.
client=(--host=127.0.0.1 --port=3306 --user="$MYSQL_USER" --skip-ssl-verify-server-cert)

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# Merges KEY VALUE pairs (JSON values) into status.json, atomically.
record() {
  local filter=. args=() i=0
  while [ $# -gt 0 ]; do
    args+=(--argjson "v$i" "$2")
    filter+=" | .$1 = \$v$i"
    shift 2
    i=$((i + 1))
  done
  jq "${args[@]}" "$filter" "$status" >"$status.new" && mv "$status.new" "$status"
}
text() { jq -Rn --arg t "$1" '$t'; }

errors=$(mktemp)
# Runs restic; on failure says why in one line (the exit codes restic documents first).
restic_run() {
  local code=0
  command restic "${restic_options[@]}" "$@" 2>"$errors" || code=$?
  [ "$code" -eq 0 ] && return 0
  case $code in
    10) echo "no restic repository at $RESTIC_REPOSITORY" ;;
    11) echo "the repository is locked by another restic process (restic's locks held by a server that is gone expire after 30 minutes)" ;;
    12) echo "wrong repository password (BACKUP_PASSWORD) for $RESTIC_REPOSITORY" ;;
    *) echo "restic $1 failed (exit $code): $(grep -v '^$' "$errors" | tail -n 3 | tr '\n' ' ' | cut -c1-400)" ;;
  esac >"$errors.reason"
  return "$code"
}
reason() { cat "$errors.reason"; }

# The repository exists (made here the first time) and the password opens it.
open_repository() {
  local code=0
  restic_run cat config >/dev/null || code=$?
  if [ "$code" -eq 10 ]; then
    restic_run init >/dev/null
  else
    return "$code"
  fi
}

snapshots_json() { restic_run snapshots --json "$@"; }

# This server's name in the repository (restic's --host): made the first time when the
# repository is empty, taken from the snapshot a restore brought back, else none yet.
server_host() {
  if [ -s "$host_file" ]; then
    cat "$host_file"
    return 0
  fi
  local snapshots
  snapshots=$(snapshots_json) || return 1
  if [ "$(jq length <<<"$snapshots")" -gt 0 ]; then
    echo "the repository holds backups of another server ($(jq -r 'max_by(.time).hostname' <<<"$snapshots")); nothing is backed up until this server restores them (scripts/vps restore --from-offsite)" >"$errors.reason"
    return 1
  fi
  echo "webstack-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$host_file"
  cat "$host_file"
}

keep_options() {
  local option
  for option in last daily weekly monthly; do
    local var=BACKUP_KEEP_${option^^}
    [ "${!var:-0}" -gt 0 ] && echo "--keep-$option=${!var}"
  done
  return 0
}

backup_once() {
  local host output summary snapshot size count
  record last_attempt "$(text "$(now)")"
  if ! open_repository || ! host=$(server_host); then
    record last_error "$(text "$(reason)")"
    return 1
  fi
  # Locks left by a restic process that died (30 minutes without a refresh) go first.
  restic_run unlock >/dev/null || true
  if ! output=$(restic_run backup --json --quiet --host "$host" --tag webstack --stdin-filename "$dump_name" \
    --stdin-from-command -- mariadb-dump "${client[@]}" --single-transaction --quick --no-tablespaces \
    --routines --triggers --events --add-drop-database --databases "$MYSQL_DATABASE"); then
    record last_error "$(text "$(reason)")"
    return 1
  fi
  summary=$(jq -c 'select(.message_type == "summary")' <<<"$output")
  snapshot=$(jq -r .snapshot_id <<<"$summary")
  size=$(jq .total_bytes_processed <<<"$summary")
  record last_success "$(text "$(now)")" last_snapshot "$(text "${snapshot:0:8}")" last_size "$size" \
    last_error null host "$(text "$host")"
  # shellcheck disable=SC2046 # one option a word
  if ! restic_run forget --prune --quiet --host "$host" $(keep_options) >/dev/null; then
    record last_error "$(text "the backup worked, retention did not: $(reason)")"
  fi
  count=$(snapshots_json | jq length) && record snapshots "$count"
  echo "snapshot ${snapshot:0:8} of $MYSQL_DATABASE ($size bytes) in $RESTIC_REPOSITORY"
}

# One at a time: the schedule, `now` and `restore` share this lock.
locked() {
  exec 9>"$state_dir/lock"
  flock -w 3600 9
  "$@"
}

# A restore reads without a lock: the lost server may have left one behind (it held it
# while it was cut off), which restic would otherwise honour for 30 minutes.
restore() {
  local wanted=${1:-latest} snapshots chosen id file=$state_dir/restore.sql
  if ! open_existing || ! snapshots=$(snapshots_json --no-lock); then
    reason >&2
    return 1
  fi
  if [ "$wanted" = latest ]; then
    chosen=$(jq -c 'max_by(.time) // empty' <<<"$snapshots")
  else
    chosen=$(jq -c --arg id "$wanted" '[.[] | select(.id | startswith($id))] | if length == 1 then .[0] else empty end' <<<"$snapshots")
  fi
  if [ -z "$chosen" ]; then
    echo "no snapshot $wanted in $RESTIC_REPOSITORY (it has $(jq length <<<"$snapshots")); nothing was changed" >&2
    return 1
  fi
  id=$(jq -r .id <<<"$chosen")
  if ! restic_run dump --no-lock "$id" "/$dump_name" >"$file"; then
    rm -f "$file"
    echo "$(reason); nothing was changed" >&2
    return 1
  fi
  # Only a complete dump replaces the database: mariadb-dump writes this line last.
  if ! tail -n 1 "$file" | grep -q '^-- Dump completed'; then
    rm -f "$file"
    echo "snapshot ${id:0:8} does not hold a complete dump; nothing was changed" >&2
    return 1
  fi
  mariadb "${client[@]}" <"$file"
  rm -f "$file"
  jq -r .hostname <<<"$chosen" >"$host_file"
  # Restoring onto this server says the one the snapshot came from is gone: its locks go
  # too, so that the backups from here are not refused until they are 30 minutes old.
  restic_run unlock --remove-all >/dev/null || echo "warning: $(reason)" >&2
  record restored "$(jq -c '{snapshot: .short_id, time: .time, host: .hostname}' <<<"$chosen")" \
    restored_at "$(text "$(now)")" last_error null
  echo "restored snapshot ${id:0:8} of $(jq -r .time <<<"$chosen") (from $(jq -r .hostname <<<"$chosen"))"
}

# A restore needs the repository as it is: it never makes one.
open_existing() { restic_run cat config --no-lock >/dev/null; }

schedule() {
  trap 'exit 0' TERM INT
  record schedule "$(text "$schedule")" interval_seconds "$interval" repository "$(text "$RESTIC_REPOSITORY")" \
    started "$(text "$(now)")"
  while true; do
    local due now_s wait
    # Due one interval after the last success; after a failure, again within five minutes.
    due=$(jq -r --argjson every "$interval" '
      def epoch: if . then fromdateiso8601 else 0 end;
      (.last_success | epoch) as $ok | (.last_attempt | epoch) as $tried
      | if .last_error != null and $tried > $ok then $tried + ([$every, 300] | min) else $ok + $every end' "$status")
    now_s=$(date +%s)
    if [ "$now_s" -ge "$due" ]; then
      locked backup_once || echo "backup failed: $(jq -r .last_error "$status")" >&2
    else
      wait=$((due - now_s))
      sleep "$((wait < 60 ? wait : 60))" &
      wait $! || true
    fi
  done
}

case ${1:-schedule} in
  schedule) schedule ;;
  now)
    if ! locked backup_once; then
      jq -r .last_error "$status" >&2
      exit 1
    fi
    ;;
  restore) locked restore "${2:-latest}" ;;
  *)
    echo "usage: webstack-backup [schedule | now | restore [SNAPSHOT]]" >&2
    exit 2
    ;;
esac
