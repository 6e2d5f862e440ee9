#!/usr/bin/env bash
# Prints images/dataplane/requirements.txt: the pins (from uv.lock) of paved-local's dependencies
# that paved's are not. Usage: images/dataplane/requirements.sh UV
set -euo pipefail
uv=${1:-uv}
export_of() {
  "$uv" export --frozen --no-dev --package "$1" --no-emit-workspace --no-hashes --no-header \
    --no-annotate -q | grep -v '^#' | sort
}
echo "# What the data plane needs beyond the operator image it is built on: paved-local's dependencies"
echo "# that paved's are not (kserve-storage and the SDKs of the schemes it fetches), pinned from uv.lock."
echo "# Regenerate: make dataplane-requirements (tests/unit/test_images.py checks it against uv.lock)."
comm -23 <(export_of paved-local) <(export_of paved)
