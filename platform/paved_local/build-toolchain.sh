#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, etcd, helm and rclone from Go modules into a per-version cache.
# Usage: build-toolchain.sh CACHE_DIR K8S_VERSION HELM_VERSION RCLONE_VERSION
# Idempotent: a binary that already exists is not rebuilt. Prints one line per binary built.
set -euo pipefail
cache=$1 k8s=$2 helm=$3 rclone=$4
export GOTOOLCHAIN=local CGO_ENABLED=0
staging=v0.${k8s#v1.}
minor=$(echo "$k8s" | cut -d. -f2)
k8s_dir=$cache/kubernetes-$k8s
mkdir -p "$k8s_dir/bin"

log() { printf '[paved toolchain] %s\n' "$*" >&2; }

if [[ ! -x $k8s_dir/bin/kube-apiserver || ! -x $k8s_dir/bin/kubectl ]]; then
  mod=$k8s_dir/src
  rm -rf "$mod" && mkdir -p "$mod" && cd "$mod"
  go mod init example.invalid/paved-k8s-bins >/dev/null 2>&1
  log "reading k8s.io/kubernetes@$k8s go.mod from the module proxy"
  upstream=$(go mod download -json "k8s.io/kubernetes@$k8s" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # The release's go line and GODEBUG defaults decide the binary's run-time behaviour.
  go_line=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream")
  godebug=$(sed -n 's/^godebug default=\(.*\)$/\1/p' "$upstream")
  go mod edit -go="$go_line"
  [[ -n $godebug ]] && go mod edit -godebug=default="$godebug"
  # Staging modules are required at v0.0.0 upstream and replaced by local paths: map each to its release.
  for m in $(sed -n 's#^\(replace \)\{0,1\}[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/src/.*#\2#p' "$upstream"); do
    go mod edit -replace="$m=$m@$staging"
  done
  log "resolving modules (first run downloads about 1-2 GB)"
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$k8s" "k8s.io/kubernetes/cmd/kubectl@$k8s" >&2
  go mod tidy >&2
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for cmd in kube-apiserver kubectl; do
    log "building $cmd $k8s"
    go build -trimpath -tags=selinux,notest -ldflags "$ldflags" -o "$k8s_dir/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$k8s_dir/bin/$cmd.tmp" "$k8s_dir/bin/$cmd"
    echo "built $k8s_dir/bin/$cmd"
  done
  go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 > "$k8s_dir/etcd-version"
fi

if [[ ! -s $k8s_dir/etcd-version ]]; then
  (cd "$k8s_dir/src" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 > "$k8s_dir/etcd-version")
fi
etcd=$(cat "$k8s_dir/etcd-version")
etcd_dir=$cache/etcd-$etcd
if [[ ! -x $etcd_dir/bin/etcd ]]; then
  # A module of its own keeps etcd's extra imports out of kube-apiserver's dependency graph.
  mkdir -p "$etcd_dir/src" "$etcd_dir/bin" && cd "$etcd_dir/src"
  [[ -f go.mod ]] || go mod init example.invalid/paved-etcd-bin >/dev/null 2>&1
  log "building etcd $etcd"
  go get -tool "go.etcd.io/etcd/server/v3@$etcd" >&2
  go build -trimpath -ldflags "-s -w" -o "$etcd_dir/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$etcd_dir/bin/etcd.tmp" "$etcd_dir/bin/etcd"
  echo "built $etcd_dir/bin/etcd"
fi

helm_major=${helm%%.*}
helm_dir=$cache/helm-$helm
if [[ ! -x $helm_dir/bin/helm ]]; then
  mkdir -p "$helm_dir/src" "$helm_dir/bin" && cd "$helm_dir/src"
  [[ -f go.mod ]] || go mod init example.invalid/paved-helm-bin >/dev/null 2>&1
  log "building helm $helm"
  go get -tool "helm.sh/helm/$helm_major/cmd/helm@$helm" >&2
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/$helm_major/internal/version.version=$helm" \
    -o "$helm_dir/bin/helm.tmp" "helm.sh/helm/$helm_major/cmd/helm"
  mv "$helm_dir/bin/helm.tmp" "$helm_dir/bin/helm"
  echo "built $helm_dir/bin/helm"
fi

# rclone (`serve s3`: the platform's object store); images/build.sh copies it into its image.
rclone_dir=$cache/rclone-$rclone
if [[ ! -x $rclone_dir/bin/rclone ]]; then
  mkdir -p "$rclone_dir/src" "$rclone_dir/bin" && cd "$rclone_dir/src"
  [[ -f go.mod ]] || go mod init example.invalid/paved-node-bin >/dev/null 2>&1
  log "building rclone $rclone"
  go get -tool "github.com/rclone/rclone@$rclone" >&2
  go build -trimpath -ldflags "-s -w" -o "$rclone_dir/bin/rclone.tmp" github.com/rclone/rclone
  mv "$rclone_dir/bin/rclone.tmp" "$rclone_dir/bin/rclone"
  echo "built $rclone_dir/bin/rclone"
fi
