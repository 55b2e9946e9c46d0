#!/usr/bin/env bash
# Runs as root on the server: Docker Engine and Compose v2 from the distribution, the
# firewall, start-on-boot. Each part is checked first and only changed when not right;
# prints "ok: ..." or "changed: ..." per part (scripts/vps setup counts the changes).
# Arguments: the SSH port to keep open, the login user to give Docker access to.
set -euo pipefail
ssh_port=$1 login_user=$2
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release

# --- packages ---------------------------------------------------------------------------
# Compose v2's package is docker-compose on Debian 13, docker-compose-v2 on Ubuntu; Debian 12
# has only the old Python Compose v1, so its v2 plugin comes from trixie's package alone.
case "$ID:$VERSION_ID" in
  ubuntu:*) compose_pkg=docker-compose-v2 ;;
  debian:12) compose_pkg= ;;
  *) compose_pkg=docker-compose ;;
esac
wanted=(docker.io docker-cli nftables ${compose_pkg:+"$compose_pkg"})
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "progress: apt-get update" >&2
  apt-get update -qq
  echo "progress: apt-get install ${missing[*]} (a minute or two)" >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "changed: installed ${missing[*]}"
else
  echo "ok: ${wanted[*]} installed"
fi
if [ -z "$compose_pkg" ] && ! docker compose version >/dev/null 2>&1; then
  echo "progress: fetching Compose v2 from Debian trixie's docker-compose package" >&2
  lists=$(mktemp -d)
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$lists/trixie.list"
  apt-get -o Dir::Etc::sourcelist="$lists/trixie.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$lists" update -qq
  (cd "$lists" && apt-get -o Dir::Etc::sourcelist="$lists/trixie.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$lists" download docker-compose >/dev/null && dpkg -i ./docker-compose_*.deb >/dev/null)
  rm -rf "$lists"
  echo "changed: installed Compose v2 (trixie's docker-compose package)"
fi

# --- firewall ---------------------------------------------------------------------------
# Only SSH, 80 and 443 come in. Docker publishes a container's port with a DNAT rule before
# the input chain, so those packets are forwarded, never "input": the forward chain drops
# every new connection that does not come from a Docker network (the Docker-and-ufw trap).
# No "flush ruleset" (Debian's default has one): applied while Docker runs, it would delete
# Docker's own rules. Only our table is replaced.
ruleset="#!/usr/sbin/nft -f
# Written by webstack's scripts/vps setup: only SSH ($ssh_port), 80 and 443 come in.
table inet webstack
delete table inet webstack
table inet webstack {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname \"lo\" accept
    meta l4proto { icmp, ipv6-icmp } accept
    tcp dport { $ssh_port, 80, 443 } accept
    udp dport 443 accept
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    iifname \"docker0\" accept
    iifname \"br-*\" accept
    ct state new drop
  }
}"
if [ "$(cat /etc/nftables.conf 2>/dev/null)" = "$ruleset" ] && nft list table inet webstack >/dev/null 2>&1 \
  && systemctl is-enabled nftables >/dev/null 2>&1; then
  echo "ok: firewall (nftables) lets in only ports $ssh_port, 80 and 443"
else
  [ -f /etc/nftables.conf ] && [ ! -f /etc/nftables.conf.before-webstack ] &&
    cp -p /etc/nftables.conf /etc/nftables.conf.before-webstack
  tmp=$(mktemp)
  printf '%s\n' "$ruleset" >"$tmp"
  nft -c -f "$tmp"
  install -m 755 "$tmp" /etc/nftables.conf
  rm -f "$tmp"
  nft -f /etc/nftables.conf
  systemctl enable nftables >/dev/null 2>&1
  echo "changed: firewall (nftables) lets in only ports $ssh_port, 80 and 443, also for ports Docker publishes; on at boot"
fi

# --- Docker, on at boot -----------------------------------------------------------------
if systemctl is-enabled docker >/dev/null 2>&1 && systemctl is-active docker >/dev/null 2>&1; then
  echo "ok: Docker Engine $(docker version --format '{{.Server.Version}}') running, on at boot"
else
  systemctl enable --now docker >/dev/null
  echo "changed: Docker Engine $(docker version --format '{{.Server.Version}}') started, on at boot"
fi
if ! docker compose version >/dev/null 2>&1; then
  echo "error: docker compose (v2) does not run after installing it" >&2
  exit 1
fi
if [ "$login_user" != root ] && ! id -nG "$login_user" | tr ' ' '\n' | grep -qx docker; then
  usermod -aG docker "$login_user"
  echo "changed: $login_user may use Docker (group docker)"
fi
