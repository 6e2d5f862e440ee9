#!/usr/bin/env bash
# `make image`: builds paved's images on bases made from Debian's packages, pulling nothing
# from an image registry, and prints each image's tag and size.
#
#   images/build.sh [IMAGE...]     IMAGE: operator, dataplane, model-server, redis, prometheus,
#                                  mlflow, objectstore (default: all)
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
mlflow=$(sed -n 's/^mlflow==//p' images/mlflow/requirements.in)
toolchain=${PAVED_CACHE_DIR:-$HOME/.cache/paved}/toolchain
# rclone is the embedded platform's object store too: one pin, paved_local.toolchain's.
rclone_version=$(sed -n 's/^RCLONE_VERSION: Final = "\(.*\)"$/\1/p' platform/paved_local/toolchain.py)
rclone=$toolchain/rclone-$rclone_version/bin/rclone
prometheus_version=$(sed -n 's/^version=//p' images/prometheus/build-binary.sh)
# The operator's image also runs the training pipeline's components (paved_pipelines), the
# feature server (`paved features serve`) and the stream consumer (`paved features consume`).
declare -A dockerfile=(
  [operator]=operator/Dockerfile
  [model-server]=images/model-server/Dockerfile
  [dataplane]=images/dataplane/Dockerfile
  [redis]=images/redis/Dockerfile
  [prometheus]=images/prometheus/Dockerfile
  [mlflow]=images/mlflow/Dockerfile
  [objectstore]=images/objectstore/Dockerfile
)
declare -A tag=(
  [operator]=ghcr.io/paved-dev/paved:$version-python3.11
  [model-server]=ghcr.io/paved-dev/paved-model-server:$mlserver
  [dataplane]=ghcr.io/paved-dev/paved-dataplane:$version
  [redis]=ghcr.io/paved-dev/paved-redis:$version
  [prometheus]=ghcr.io/paved-dev/paved-prometheus:$prometheus_version
  [mlflow]=ghcr.io/paved-dev/paved-mlflow:$mlflow
  [objectstore]=ghcr.io/paved-dev/paved-objectstore:$rclone_version
)
# Services from Debian's packages are built on a base that includes them (no Python needed);
# the model server's LightGBM links the system's OpenMP runtime (libgomp1).
declare -A packages=([redis]=redis-server [model-server]=python3.11,ca-certificates,libgomp1)
order=(operator dataplane model-server redis prometheus mlflow objectstore)

# shellcheck source=builder.sh
source images/builder.sh
read -ra build <<<"$(builder)"
base=$(bash images/base.sh base python3.11,ca-certificates)
build_base=$(bash images/base.sh build python3.11,python3.11-venv,ca-certificates)
# For a static binary, or one copied out of its package (SLIM_IMAGE).
slim=$(bash images/base.sh slim ca-certificates)
secret=()
# A TLS-inspecting proxy's CA reaches the build as a secret: mounted while downloading, never
# stored in a layer (a build argument or a COPY would be).
[[ -f $ca ]] && secret=(--secret "id=ca,src=$ca")

# context IMAGE: the build context. A Go binary's image has the binaries alone (built from Go
# modules into the toolchain cache, outside the repository), copied to a directory of its own.
context() {
  local dir
  case $1 in
    objectstore)
      [[ -x $rclone ]] || {
        echo "error: no $rclone: build it from Go modules (images/node/build-binaries.sh)" >&2
        return 1
      }
      dir=$(mktemp -d)
      cp "$rclone" "$dir/" ;;
    prometheus)
      local bin
      bin=$(bash images/prometheus/build-binary.sh "$toolchain")
      dir=$(mktemp -d)
      cp "$bin/prometheus" "$dir/" ;;
    *) dir=. ;;
  esac
  echo "$dir"
}

for image in "${@:-${order[@]}}"; do
  [[ -n ${dockerfile[$image]:-} ]] || { echo "error: unknown image $image (known: ${!dockerfile[*]})" >&2; exit 2; }
  started=$SECONDS
  log=$logs/$image.log
  image_base=$base
  [[ -n ${packages[$image]:-} ]] && image_base=$(bash images/base.sh "$image" "${packages[$image]}")
  dir=$(context "$image")
  if ! "${build[@]}" --progress=plain -f "${dockerfile[$image]}" -t "${tag[$image]}" \
    --build-arg "BASE_IMAGE=$image_base" --build-arg "BUILD_IMAGE=$build_base" --build-arg "SLIM_IMAGE=$slim" \
    --build-arg "OPERATOR_IMAGE=${tag[operator]}" "${secret[@]}" "$dir" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: building $image failed; the whole log: $log" >&2
    exit 1
  fi
  [[ $dir == . ]] || rm -rf "$dir"
  size=$(docker image inspect --format '{{.Size}}' "${tag[$image]}")
  printf '%-16s %-48s %5d MB  %3d s\n' "$image" "${tag[$image]}" $((size / 1000000)) $((SECONDS - started))
done
