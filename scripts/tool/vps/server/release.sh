#!/usr/bin/env bash
# Runs as root on the server: unpacks the release files (a tar on stdin) into STACK_DIR,
# replacing them only when they differ; in each folder named after STACK_DIR (the app's
# migrations), a file the release no longer has is removed. Prints "ok:" or "changed:".
set -euo pipefail
stack_dir=$1
shift
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
removed=()
for folder in "$@"; do
  [ -d "$stack_dir/$folder" ] || continue
  while IFS= read -r -d '' path; do
    rel=${path#"$stack_dir"/}
    if [ ! -e "$incoming/$rel" ]; then
      rm -f "$path"
      removed+=("$rel")
    fi
  done < <(find "$stack_dir/$folder" -type f -print0)
done
[ "${#removed[@]}" -eq 0 ] || echo "changed: removed release files ${removed[*]}"
if [ "${#changed[@]}" -gt 0 ]; then
  echo "changed: release files ${changed[*]}"
elif [ "${#removed[@]}" -eq 0 ]; then
  echo "ok: release files up to date"
fi
