#!/usr/bin/env bash
# The backup service's program: a consistent dump of the database (--single-transaction: one
# InnoDB snapshot, no lock on the tables) streamed into a restic repository off the server,
# then the retention policy applied; between dumps, the database's binary log shipped to the
# same repository every BACKUP_BINLOG_INTERVAL, so that a restore can replay it onto the dump
# (point-in-time recovery). Commands:
#   schedule          back up every BACKUP_SCHEDULE, ship the binary log every
#                     BACKUP_BINLOG_INTERVAL, for as long as the container runs
#   now               one backup now; prints the snapshot
#   restore [SNAP] [TIME]
#                     replace the database with snapshot SNAP (default: the newest, or the
#                     newest before TIME), then write the binary log's changes since that dump
#                     (up to TIME, 'YYYY-MM-DD HH:MM:SS' UTC, when given) as SQL to
#                     $STATE_DIR/replay.sql, for root to apply (scripts/vps restore does)
# Each writes what happened to $STATE_DIR/status.json, which scripts/vps backup status and
# the monitor read. A server whose repository holds another server's backups backs nothing
# up until it has restored them: a new, empty server must never become the newest snapshot,
# nor make retention drop the last good one.
set -euo pipefail

state_dir=${STATE_DIR:-/state}
status=$state_dir/status.json
host_file=$state_dir/host
dump_name=database.sql
# The closed binary log files shipped so far, kept while a kept dump may need them, and the
# name of the server's log they belong to (a new server's log starts again at .000001).
mirror=$state_dir/binlog
lineage_file=$state_dir/binlog-lineage
replay_sql=$state_dir/replay.sql
: "${BACKUP_REPOSITORY:?set BACKUP_REPOSITORY}" "${BACKUP_PASSWORD:?set BACKUP_PASSWORD}"
: "${MYSQL_USER:?set MYSQL_USER}" "${MYSQL_PASSWORD:?set MYSQL_PASSWORD}" "${MYSQL_DATABASE:?set MYSQL_DATABASE}"
export RESTIC_REPOSITORY=$BACKUP_REPOSITORY RESTIC_PASSWORD=$BACKUP_PASSWORD
export RESTIC_CACHE_DIR=$state_dir/cache MYSQL_PWD=$MYSQL_PASSWORD
mkdir -p "$state_dir"
[ -s "$status" ] || echo '{}' >"$status"

# An interval (the setting NAME's VALUE): a whole number and a unit (30s, 15m, 6h, 1d).
# scripts/vps setup checks it first; this refuses too, so that a hand-edited .env fails loudly.
interval_seconds() {
  if ! [[ $2 =~ ^([1-9][0-9]*)([smhd])$ ]]; then
    echo "$1=$2: give an interval such as 30s, 15m, 6h or 1d" >&2
    return 1
  fi
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in s) echo "$n" ;; m) echo $((n * 60)) ;; h) echo $((n * 3600)) ;; d) echo $((n * 86400)) ;; esac
}
schedule=${BACKUP_SCHEDULE:?set BACKUP_SCHEDULE}
interval=$(interval_seconds BACKUP_SCHEDULE "$schedule")
binlog_interval=$(interval_seconds BACKUP_BINLOG_INTERVAL "${BACKUP_BINLOG_INTERVAL:?set BACKUP_BINLOG_INTERVAL}")

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
# database container's own socket), without TLS certificate checks on loopback. Setup grants
# it what the binary log needs besides: RELOAD (rotate it), REPLICATION CLIENT (where it is),
# REPLICATION SLAVE (read it).
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

# Runs one SQL statement as the backups' user; its rows tab-separated; on failure says why.
sql() {
  if ! mariadb "${client[@]}" -N -B -e "$1" 2>"$errors"; then
    echo "the database refused $1: $(grep -v '^$' "$errors" | tail -n 2 | tr '\n' ' ' | cut -c1-300)" >"$errors.reason"
    return 1
  fi
}

random_id() { head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The binary log's name for this server, made the first time it is needed.
lineage() {
  [ -s "$lineage_file" ] || random_id >"$lineage_file"
  cat "$lineage_file"
}

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
  echo "webstack-$(random_id)" >"$host_file"
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
  local host output summary snapshot size kept binlog_on position=() tags=(--tag webstack)
  record last_attempt "$(text "$(now)")"
  if ! open_repository || ! host=$(server_host) || ! binlog_on=$(sql 'SELECT @@log_bin'); then
    record last_error "$(text "$(reason)")"
    return 1
  fi
  # With the binary log on, the dump names its position in it (a comment at its top) and the
  # snapshot names the log, so that a restore knows what to replay from where.
  if [ "$binlog_on" = 1 ]; then
    position=(--master-data=2)
    tags+=(--tag "binlog:$(lineage)")
  fi
  # Locks left by a restic process that died (30 minutes without a refresh) go first.
  restic_run unlock >/dev/null || true
  if ! output=$(restic_run backup --json --quiet --host "$host" "${tags[@]}" --stdin-filename "$dump_name" \
    --stdin-from-command -- mariadb-dump "${client[@]}" --single-transaction "${position[@]}" --quick --no-tablespaces \
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
  if ! restic_run forget --prune --quiet --host "$host" --tag webstack $(keep_options) >/dev/null; then
    record last_error "$(text "the backup worked, retention did not: $(reason)")"
  fi
  if kept=$(snapshots_json --tag webstack); then
    record snapshots "$(jq length <<<"$kept")"
    # Binary log files shipped before the oldest kept dump began hold nothing it needs.
    local oldest
    oldest=$(jq -r --arg host "$host" '[.[] | select(.hostname == $host)] | min_by(.time).time // empty' <<<"$kept")
    if [ -n "$oldest" ] && [ -d "$mirror" ]; then find "$mirror" -type f ! -newermt "$oldest" -delete; fi
  fi
  echo "snapshot ${snapshot:0:8} of $MYSQL_DATABASE ($size bytes) in $RESTIC_REPOSITORY"
}

# The binary log since the last run, off the server: the log is rotated (only when something
# was written since the last rotation: each rotation starts a file), the files it closed are
# read over the replication protocol into the mirror, and the mirror is stored as one
# snapshot, so that the newest snapshot of a log holds all a kept dump needs (restic stores
# only what is new). The log's newest file, still open, waits for the next run.
ship_binlog() {
  local host current listed last closed=() id output
  record binlog_last_attempt "$(text "$(now)")"
  if ! open_repository || ! host=$(server_host) || ! current=$(sql 'SHOW MASTER STATUS'); then
    record binlog_last_error "$(text "$(reason)")"
    return 1
  fi
  if [ -z "$current" ]; then
    record binlog_last_error "$(text "the database's binary log is off (log_bin in db/conf/webstack.cnf; the database takes it on a restart)")"
    return 1
  fi
  current=$(cut -f1,2 <<<"$current")
  if [ "$current" != "$(jq -r '.binlog_opened // empty' "$status")" ]; then
    if ! sql 'FLUSH BINARY LOGS' >/dev/null || ! current=$(sql 'SHOW MASTER STATUS'); then
      record binlog_last_error "$(text "$(reason)")"
      return 1
    fi
    record binlog_opened "$(text "$(cut -f1,2 <<<"$current")")"
  fi
  if ! listed=$(sql 'SHOW BINARY LOGS'); then
    record binlog_last_error "$(text "$(reason)")"
    return 1
  fi
  last=$(jq -r '.binlog_last_file // empty' "$status")
  mapfile -t closed < <(cut -f1 <<<"$listed" | sed '$d' | awk -v after="$last" '$0 > after')
  if [ "${#closed[@]}" -gt 0 ]; then
    mkdir -p "$mirror"
    if ! mariadb-binlog --no-defaults "${client[@]}" --read-from-remote-server --raw --result-file="$mirror/" \
      "${closed[@]}" 2>"$errors"; then
      record binlog_last_error "$(text "reading the binary log failed: $(grep -v '^$' "$errors" | tail -n 2 | tr '\n' ' ' | cut -c1-300)")"
      return 1
    fi
    id=$(lineage)
    if ! output=$(restic_run backup --json --quiet --host "$host" --tag binlog --tag "binlog:$id" "$mirror"); then
      record binlog_last_error "$(text "$(reason)")"
      return 1
    fi
    record binlog_last_file "$(text "${closed[-1]}")" \
      binlog_last_snapshot "$(jq -c 'select(.message_type == "summary") | .snapshot_id[0:8]' <<<"$output")"
    # The newest snapshots of this log are enough: each holds the whole mirror.
    restic_run forget --quiet --host "$host" --tag "binlog:$id" --keep-last 2 >/dev/null ||
      echo "binary log retention failed: $(reason)" >&2
  fi
  record binlog_last_success "$(text "$(now)")" binlog_last_error null
}

# One at a time: the schedule, `now` and `restore` share this lock.
locked() {
  exec 9>"$state_dir/lock"
  flock -w 3600 9
  "$@"
}

# Writes to $replay_sql what the binary log holds after the dump in FILE (of snapshot CHOSEN,
# among SNAPSHOTS), up to TIME when given, and says how far that reaches. Only this app's
# database: the server's own tables (its users) stay as the new server has them.
binlog_replay() {
  local chosen=$1 file=$2 to=$3 snapshots=$4 position lineage log_id target start pos files=() stop=() last
  rm -f "$replay_sql"
  position=$(head -n 40 "$file" | sed -n "s/^-- CHANGE MASTER TO MASTER_LOG_FILE='\([^']*\)', MASTER_LOG_POS=\([0-9]*\);$/\1 \2/p")
  lineage=$(jq -r '.tags // [] | map(select(startswith("binlog:")) | ltrimstr("binlog:")) | first // empty' <<<"$chosen")
  if [ -z "$position" ] || [ -z "$lineage" ]; then
    echo "no binary log to replay: the dump names no position in it; the database is as of the dump"
    return 0
  fi
  read -r start pos <<<"$position"
  log_id=$(jq -r --arg tag "binlog:$lineage" '[.[] | select(.tags // [] | index($tag))] | max_by(.time).id // empty' <<<"$snapshots")
  target=$state_dir/replay
  rm -rf "$target"
  if [ -n "$log_id" ]; then
    restic_run restore --no-lock "$log_id" --target "$target" >/dev/null || return 1
    mapfile -t files < <(find "$target" -type f -printf '%f %p\n' | sort | awk -v start="$start" '$1 >= start { print $2 }')
  fi
  if [ "${#files[@]}" -eq 0 ] || [ "$(basename "${files[0]}")" != "$start" ]; then
    rm -rf "$target"
    echo "no binary log shipped since the dump ($start was still open); the database is as of the dump"
    return 0
  fi
  [ -z "$to" ] || stop=(--stop-datetime="$to")
  if ! mariadb-binlog --no-defaults --start-position="$pos" "${stop[@]}" --database="$MYSQL_DATABASE" \
    "${files[@]}" >"$replay_sql" 2>"$errors"; then
    echo "reading the binary log failed: $(grep -v '^$' "$errors" | tail -n 2 | tr '\n' ' ' | cut -c1-300)" >"$errors.reason"
    rm -rf "$target" "$replay_sql"
    return 1
  fi
  rm -rf "$target"
  # Each transaction ends in an Xid event, whose header comment carries its time (#YYMMDD H:MM:SS).
  last=$(awk '/^#[0-9]{6} / && /Xid = / { d = $1; t = $2 }
    END { if (d) { split(t, c, ":"); printf "20%s-%s-%s %02d:%s:%s\n", substr(d, 2, 2), substr(d, 4, 2), substr(d, 6, 2), c[1], c[2], c[3] } }' "$replay_sql")
  if [ -n "$last" ]; then
    echo "binary log from $start:$pos (${#files[@]} files), up to the transaction committed at $last UTC"
  else
    echo "binary log from $start:$pos (${#files[@]} files): no transaction after the dump${to:+ before $to}"
  fi
}

# A restore reads without a lock: the lost server may have left one behind (it held it
# while it was cut off), which restic would otherwise honour for 30 minutes. Nothing changes
# until the dump and the binary log it needs are both here and readable.
restore() {
  local wanted=${1:-latest} to=${2:-} snapshots chosen id file=$state_dir/restore.sql replay
  if [ -n "$to" ] && ! { [[ $to =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] && date -u -d "$to" >/dev/null 2>&1; }; then
    echo "$to: give the time as YYYY-MM-DD HH:MM:SS (UTC); nothing was changed" >&2
    return 2
  fi
  if ! open_existing || ! snapshots=$(snapshots_json --no-lock); then
    reason >&2
    return 1
  fi
  # The dumps (not the binary log's snapshots), with TIME only those taken before it.
  chosen=$(jq -c --arg id "$wanted" --arg to "$to" '
    def epoch: sub("\\.[0-9]+"; "") | sub("\\+00:00$"; "Z") | fromdateiso8601;
    [.[] | select(.tags // [] | index("webstack"))
      | select($to == "" or (.time | epoch) <= ($to | sub(" "; "T") + "Z" | fromdateiso8601))]
    | if $id == "latest" then max_by(.time) // empty
      else [.[] | select(.id | startswith($id))] | if length == 1 then .[0] else empty end end' <<<"$snapshots")
  if [ -z "$chosen" ]; then
    echo "no snapshot $wanted${to:+ taken before $to} in $RESTIC_REPOSITORY (it has $(jq '[.[] | select(.tags // [] | index("webstack"))] | length' <<<"$snapshots")); nothing was changed" >&2
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
  if ! replay=$(binlog_replay "$chosen" "$file" "$to" "$snapshots"); then
    rm -f "$file"
    echo "$(reason); nothing was changed" >&2
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
  echo "$replay"
}

# A restore needs the repository as it is: it never makes one.
open_existing() { restic_run cat config --no-lock >/dev/null; }

schedule() {
  trap 'exit 0' TERM INT
  record schedule "$(text "$schedule")" interval_seconds "$interval" repository "$(text "$RESTIC_REPOSITORY")" \
    binlog_interval "$(text "$BACKUP_BINLOG_INTERVAL")" started "$(text "$(now)")"
  while true; do
    local due binlog_due now_s wait
    # Due one interval after the last success; after a failure, again within five minutes.
    due=$(jq -r --argjson every "$interval" '
      def epoch: if . then fromdateiso8601 else 0 end;
      (.last_success | epoch) as $ok | (.last_attempt | epoch) as $tried
      | if .last_error != null and $tried > $ok then $tried + ([$every, 300] | min) else $ok + $every end' "$status")
    # The binary log every interval from the last run's start, whatever its outcome: what
    # can be lost is at most one interval plus the time to ship.
    binlog_due=$(jq -r --argjson every "$binlog_interval" \
      '(.binlog_last_attempt | if . then fromdateiso8601 else 0 end) + $every' "$status")
    now_s=$(date +%s)
    if [ "$now_s" -ge "$due" ]; then
      locked backup_once || echo "backup failed: $(jq -r .last_error "$status")" >&2
    elif [ "$now_s" -ge "$binlog_due" ]; then
      locked ship_binlog || echo "shipping the binary log failed: $(jq -r .binlog_last_error "$status")" >&2
    else
      wait=$(((due < binlog_due ? due : binlog_due) - now_s))
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
  restore) locked restore "${2:-latest}" "${3:-}" ;;
  *)
    echo "usage: webstack-backup [schedule | now | restore [SNAPSHOT] [YYYY-MM-DD HH:MM:SS]]" >&2
    exit 2
    ;;
esac
