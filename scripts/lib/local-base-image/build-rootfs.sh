#!/usr/bin/env bash
# Makes the local Debian base image's file system in DIR: a minimal Debian trixie from
# debootstrap, with the apt and dpkg settings beside this script (those of Debian's official
# slim images), and trimmed of what those settings keep out of every later install.
set -euo pipefail

root=${1:?usage: build-rootfs.sh DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
slim=$here/etc/dpkg/dpkg.cfg.d/docker-slim

debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian >/dev/null
cp -R "$here/etc/." "$root/etc/"

# The packages debootstrap installed came before those settings: remove their files the
# settings exclude (path-exclude DIR/*), all but the ones they keep (path-include).
keep=()
while read -r pattern; do keep+=(! -path "$root$pattern"); done < <(sed -n 's/^path-include //p' "$slim")
while read -r pattern; do
  dir=$root${pattern%/\*}
  [ -d "$dir" ] || continue
  find "$dir" -mindepth 1 ! -type d "${keep[@]}" -delete
  find "$dir" -mindepth 1 -type d -empty -delete
done < <(sed -n 's/^path-exclude //p' "$slim")

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
