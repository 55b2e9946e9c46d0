#!/usr/bin/env bash
# A node's boot: the test's public key, the engine (no systemd here), then sshd in the
# foreground. Also what runs again when a stopped node is started: the engine's state
# (swarm membership, images, volumes) lives on the /var/lib/docker volume.
set -euo pipefail
: "${AUTHORIZED_KEY:?AUTHORIZED_KEY must hold the public key allowed to log in}"
printf '%s\n' "$AUTHORIZED_KEY" >/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null
# A stop kills dockerd without cleanup; its pid files would make the next start fail.
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid /var/run/docker/containerd/containerd.pid
dockerd >/var/log/dockerd.log 2>&1 &
exec /usr/sbin/sshd -D -e
