# shellcheck shell=bash
# Node.js for the tests, the bench and the operating tool: the same major as the app's
# image. The machine's own Node when it is new enough; otherwise the official build from
# npm's node-linux-<arch> package, unpacked into .local/ and put first on PATH for this
# script only (the system's Node stays as it is). Source it (after common.sh), then call
# ensure_node.

# Also what the app's local stand-in image is built from (scripts/lib/images.sh).
LOCAL_NODE_VERSION=24.21.0
NODE_MAJOR=${LOCAL_NODE_VERSION%%.*}

_node_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Where ensure_node unpacks it, and finds it on later calls (scripts/test, scripts/tool/command).
LOCAL_NODE_DIR="$_node_root/.local/node-$LOCAL_NODE_VERSION"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if [ -x "$LOCAL_NODE_DIR/bin/node" ]; then
    export PATH="$LOCAL_NODE_DIR/bin:$PATH"
  elif [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
    command -v npm >/dev/null 2>&1 || die "Node.js $NODE_MAJOR is needed: install Node.js and npm (any version) so npm can fetch it"
    local arch tmp
    case "$(uname -m)" in
      x86_64) arch=x64 ;;
      aarch64) arch=arm64 ;;
      *) die "no node-linux package for $(uname -m): install Node.js $NODE_MAJOR yourself" ;;
    esac
    log "Node.js $(node --version 2>/dev/null || echo missing) here: fetching Node.js $LOCAL_NODE_VERSION (npm package node-linux-$arch) into .local/"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$LOCAL_NODE_VERSION" >/dev/null)
    mkdir -p "$tmp/node"
    tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
    mkdir -p "$(dirname "$LOCAL_NODE_DIR")"
    # One rename, so a half-unpacked copy is never taken for a complete one; -T so that a
    # copy another process unpacked meanwhile is kept, not nested.
    mv -T "$tmp/node" "$LOCAL_NODE_DIR" 2>/dev/null || [ -x "$LOCAL_NODE_DIR/bin/node" ] ||
      die "could not unpack Node.js $LOCAL_NODE_VERSION into $LOCAL_NODE_DIR"
    rm -rf "$tmp"
    export PATH="$LOCAL_NODE_DIR/bin:$PATH"
  fi
}
