# shellcheck shell=bash
# What every shell script here shares: progress lines, errors, and apt installs as root.
# Source it; it defines functions only.

# A long step, with the seconds since the script started (bash's SECONDS).
step() { printf '\n==> [%3ss] %s\n' "$SECONDS" "$*" >&2; }
log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Installs Debian packages, as root, quietly; says what to install otherwise.
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing $*; install them (Debian/Ubuntu: apt-get install $*)"
  fi
  log "installing $* (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
