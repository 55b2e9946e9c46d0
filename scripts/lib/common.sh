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

# The release: package.json's version, and the commit when this is a git checkout
# ($1: the repo). What --version prints, for every command.
print_version() {
  local version describe
  version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$1/package.json")
  describe=$(git -C "$1" describe --always --dirty 2>/dev/null || true)
  printf 'webstack %s%s\n' "$version" "${describe:+ ($describe)}"
}

# For a command that takes no arguments but --help/-h/help and --version ($1: the repo,
# $2: its usage, then its arguments): answers those and exits; anything else exits 2.
no_arguments_but_help() {
  local repo=$1 usage=$2 arg
  shift 2
  for arg in "$@"; do
    case $arg in
      -h | --help | help) echo "$usage" && exit 0 ;;
      --version) print_version "$repo" && exit 0 ;;
      *) printf 'error: unknown argument "%s"\n\n%s\n' "$arg" "$usage" >&2 && exit 2 ;;
    esac
  done
}
