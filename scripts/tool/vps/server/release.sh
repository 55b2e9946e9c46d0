#!/usr/bin/env bash
# Runs as root on the server: unpacks the release files (a tar on stdin) into STACK_DIR,
# replacing them only when they differ. Prints "ok:" or "changed:".
set -euo pipefail
stack_dir=$1
mkdir -p "$stack_dir"
incoming=$(mktemp -d)
trap 'rm -rf "$incoming"' EXIT
tar -x -C "$incoming"
changed=()
while IFS= read -r -d '' path; do
  rel=${path#"$incoming"/}
  if ! cmp -s "$path" "$stack_dir/$rel"; then
    mkdir -p "$(dirname "$stack_dir/$rel")"
    install -m 644 "$path" "$stack_dir/$rel"
    changed+=("$rel")
  fi
done < <(find "$incoming" -type f -print0)
if [ "${#changed[@]}" -gt 0 ]; then
  echo "changed: release files ${changed[*]}"
else
  echo "ok: release files up to date"
fi
