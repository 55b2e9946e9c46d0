#!/usr/bin/env bash
# A container registry (Debian's docker-registry, distribution 2.8) over TLS with a
# certificate made here for the address it is reached at: what REGISTRY names in the VPS
# tests. Both Docker engines trust that certificate through /etc/docker/certs.d.
set -euo pipefail
address=$1
mkdir -p /registry/data && cd /registry
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=registry \
  -addext "subjectAltName=IP:$address" -keyout key.pem -out cert.pem 2>/dev/null
cat >config.yml <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /registry/data
http:
  addr: 0.0.0.0:5000
  tls:
    certificate: /registry/cert.pem
    key: /registry/key.pem
YAML
exec docker-registry serve /registry/config.yml
