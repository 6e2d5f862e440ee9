#!/usr/bin/env bash
# Builds a Debian bookworm base image from Debian's own packages (mmdebstrap, then
# `docker import`): nothing is pulled from an image registry. Prints the image's tag.
#
#   images/base.sh NAME PACKAGE[,PACKAGE...]   ->   paved-NAME:<hash of the inputs>
#
# The tag is a hash of everything that decides the image (this script, the suite and the
# packages), so a tag that exists is the image these inputs give and the build is skipped.
set -euo pipefail

name=$1
packages=$2
suite=bookworm
tag="paved-$name:$( { cat "$0"; echo "$suite $packages"; } | sha256sum | cut -c1-12)"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building $tag from Debian's packages ($packages)" >&2
# merged-usr without the usrmerge package (which pulls perl in); no recommends, docs,
# manuals or translations: a base is what the images run on, not a workstation.
mmdebstrap --quiet --variant=minbase --include="$packages" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='Apt::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  "$suite" "$work/rootfs.tar" >"$work/mmdebstrap.log" 2>&1 || {
  tail -n 30 "$work/mmdebstrap.log" >&2
  exit 1
}
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
  --message "mmdebstrap --variant=minbase $suite: $packages" "$work/rootfs.tar" "$tag" >/dev/null
echo "$tag"
