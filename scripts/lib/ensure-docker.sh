#!/usr/bin/env bash
# Makes sure a Docker engine and the Compose v2 plugin are available.
# On Debian/Ubuntu as root it installs them from the distribution's packages;
# otherwise it says exactly what to install and fails.
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

is_root() { [ "$(id -u)" -eq 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }
can_install() { if is_root && have_apt; then return 0; else return 1; fi; }

engine_answers() { docker info >/dev/null 2>&1; }

install_engine() {
  can_install || die "no Docker engine. Install Docker Engine (Debian/Ubuntu: apt-get install docker.io) and start it, then run this again."
  apt_install docker.io
}

# A machine reused after its processes were killed keeps /var/run: dockerd then trusts
# the old pid files, and if their PID now belongs to another process it waits for a
# containerd that is not there ("timeout waiting for containerd to start").
clear_stale_pid_files() {
  local file expected pid
  for file in /var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd; do
    expected=${file##*:}
    file=${file%:*}
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$expected" ]; then
      log "removing stale $file (pid $pid is not $expected)"
      rm -f "$file"
    fi
  done
}

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then install_engine; fi
  if engine_answers; then return; fi
  is_root || die "the Docker engine is not running; start it (for example: sudo systemctl start docker)."
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    log "starting docker with systemd"
    systemctl start docker
  else
    # No init system (containers, CI sandboxes): run the daemon in the background.
    clear_stale_pid_files
    log "starting dockerd in the background (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    engine_answers && return
    sleep 1
  done
  tail -n 20 /var/log/dockerd.log >&2 || true
  die "dockerd did not answer within 60 s; the end of /var/log/dockerd.log is above"
}

compose_answers() { docker compose version >/dev/null 2>&1; }

# Compose v2 is packaged as docker-compose-v2 on Ubuntu and newer Debian; bookworm has
# only the old python 1.29, so there we take the static binary from trixie's package
# without adding trixie to the system's sources.
install_compose() {
  can_install || die "Docker Compose v2 is missing. Install the compose plugin (Ubuntu: apt-get install docker-compose-v2; Debian 13: apt-get install docker-compose)."
  log "installing Docker Compose v2"
  apt-get update -qq
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose-v2 >/dev/null
    return
  fi
  local candidate
  candidate=$(apt-cache policy docker-compose | awk '/Candidate:/ {print $2}')
  if [[ "$candidate" == 2.* ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
    return
  fi
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt downloads as the _apt user
  mkdir -p "$tmp/lists/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$tmp/trixie.list"
  local opts=(-o "Dir::Etc::sourcelist=$tmp/trixie.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$tmp/lists")
  apt-get "${opts[@]}" update -qq
  (cd "$tmp" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  dpkg -i "$tmp"/docker-compose_*.deb >/dev/null
  rm -rf "$tmp"
}

main() {
  if engine_answers; then :; else start_engine; fi
  compose_answers || install_compose
  compose_answers || die "docker compose still does not answer after installing"
  log "docker $(docker version --format '{{.Server.Version}}') with compose $(docker compose version --short)"
}

main "$@"
