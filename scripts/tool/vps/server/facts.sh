#!/usr/bin/env bash
# Reads what setup must know about a server before it changes anything; changes nothing.
# Prints KEY=VALUE lines, which setup parses on the machine it runs from.
set -euo pipefail
# shellcheck disable=SC1091
. /etc/os-release 2>/dev/null || true
echo "os_id=${ID:-unknown}"
echo "os_version=${VERSION_ID:-unknown}"
echo "os_name=${PRETTY_NAME:-unknown}"
echo "arch=$(uname -m)"
echo "user=$(id -un)"
if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then echo "root=yes"; else echo "root=no"; fi
if command -v systemctl >/dev/null 2>&1; then echo "systemd=yes"; else echo "systemd=no"; fi
if command -v apt-get >/dev/null 2>&1; then echo "apt=yes"; else echo "apt=no"; fi
echo "disk_free_mb=$(df -Pm / | awk 'NR==2 {print $4}')"
echo "memory_mb=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)"
# The address this SSH session reached the server at, and the port (the firewall keeps it open).
read -r _ _ server_ip server_port <<<"${SSH_CONNECTION:-- - - 22}"
echo "ssh_address=$server_ip"
echo "ssh_port=$server_port"
