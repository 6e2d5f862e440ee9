#!/usr/bin/env bash
# `make image`: builds paved's images on bases made from Debian's packages, pulling nothing
# from an image registry, and prints each image's tag and size.
#
#   images/build.sh [IMAGE...]     IMAGE: operator, dataplane, model-server (default: all)
#
# Cached: a base is rebuilt only when its inputs change (images/base.sh), and BuildKit's layer
# cache (kept by the Docker engine, outside the repository) makes an unchanged image a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
logs=${XDG_STATE_HOME:-$HOME/.local/state}/paved/images
mkdir -p "$logs"
ca=${PAVED_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
mlserver=$(sed -n 's/^mlserver==//p' images/model-server/requirements.in)
# The operator's image also runs the training pipeline's components (paved_pipelines), the
# feature server (`paved features serve`) and the stream consumer (`paved features consume`).
declare -A dockerfile=(
  [operator]=operator/Dockerfile
  [model-server]=images/model-server/Dockerfile
  [dataplane]=images/dataplane/Dockerfile
)
declare -A tag=(
  [operator]=ghcr.io/paved-dev/paved:$version-python3.11
  [model-server]=ghcr.io/paved-dev/paved-model-server:$mlserver
  [dataplane]=ghcr.io/paved-dev/paved-dataplane:$version
)
order=(operator dataplane model-server)

# shellcheck source=builder.sh
source images/builder.sh
read -ra build <<<"$(builder)"
base=$(bash images/base.sh base python3.11,ca-certificates)
build_base=$(bash images/base.sh build python3.11,python3.11-venv,ca-certificates)
secret=()
# A TLS-inspecting proxy's CA reaches the build as a secret: mounted while downloading, never
# stored in a layer (a build argument or a COPY would be).
[[ -f $ca ]] && secret=(--secret "id=ca,src=$ca")

for image in "${@:-${order[@]}}"; do
  [[ -n ${dockerfile[$image]:-} ]] || { echo "error: unknown image $image (known: ${!dockerfile[*]})" >&2; exit 2; }
  started=$SECONDS
  log=$logs/$image.log
  if ! "${build[@]}" --progress=plain -f "${dockerfile[$image]}" -t "${tag[$image]}" \
    --build-arg "BASE_IMAGE=$base" --build-arg "BUILD_IMAGE=$build_base" \
    --build-arg "OPERATOR_IMAGE=${tag[operator]}" "${secret[@]}" . >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: building $image failed; the whole log: $log" >&2
    exit 1
  fi
  size=$(docker image inspect --format '{{.Size}}' "${tag[$image]}")
  printf '%-16s %-48s %5d MB  %3d s\n' "$image" "${tag[$image]}" $((size / 1000000)) $((SECONDS - started))
done
