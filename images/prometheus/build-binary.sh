#!/usr/bin/env bash
# Builds Prometheus from its Go module into the per-version cache beside the kind node's
# binaries (no release download site is reachable from these machines), and prints its path.
#
#   images/prometheus/build-binary.sh CACHE_DIR
#
# Why not Debian's package: Debian builds Prometheus without Kubernetes service discovery
# (`kubernetes_sd_configs` is an unknown field to it), and a cluster's Prometheus finds the
# model servers' Pods through it. 2.55 is the last 2.x: the PromQL the embedded platform's
# Debian Prometheus (2.42) answers, without 3.0's changes. Cached: a binary that exists is kept.
set -euo pipefail
cache=$1
version=v2.55.1
package=github.com/prometheus/prometheus
tag=v0.55.1  # Prometheus tags its Go module v0.<minor>
dir=$cache/prometheus-$version
export GOTOOLCHAIN=local CGO_ENABLED=0
if [[ ! -x $dir/bin/prometheus ]]; then
  mkdir -p "$dir/src" "$dir/bin"
  cd "$dir/src"
  [[ -f go.mod ]] || go mod init example.invalid/paved-prometheus >/dev/null 2>&1
  # Prometheus' own go.mod swaps klog for go-kit adapters; a module building it must do the same.
  go mod edit -replace k8s.io/klog=github.com/simonpasquier/klog-gokit@v0.3.0 \
    -replace k8s.io/klog/v2=github.com/simonpasquier/klog-gokit/v3@v3.5.0
  echo "building prometheus $version from $package@$tag" >&2
  go get -tool "$package/cmd/prometheus@$tag" "$package/cmd/promtool@$tag" >&2
  ldflags="-s -w -X github.com/prometheus/common/version.Version=${version#v}"
  for cmd in prometheus promtool; do
    go build -trimpath -tags netgo -ldflags "$ldflags" -o "$dir/bin/$cmd.tmp" \
      "$package/cmd/$cmd"
    mv "$dir/bin/$cmd.tmp" "$dir/bin/$cmd"
  done
fi
echo "$dir/bin"
