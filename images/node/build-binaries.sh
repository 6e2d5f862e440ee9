#!/usr/bin/env bash
# Builds the Go binaries of a kind node from Go modules into the per-version cache beside the
# embedded platform's toolchain (no release download site is reachable from these machines).
#
#   images/node/build-binaries.sh CACHE_DIR   (prints `NAME PATH` for each binary)
#
# Idempotent and cached by version: a binary that exists is not rebuilt. Versions are pinned in
# images/node/versions.env; Kubernetes is the embedded API server's release, so one go.mod serves both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0
log() { printf '[paved node] %s\n' "$*" >&2; }

# go_tool DIR MODULE@VERSION PACKAGE OUT [LDFLAGS]: one binary from a module of its own.
go_tool() {
  local dir=$1 mod=$2 pkg=$3 out=$4 ldflags=${5:-}
  [[ -x $dir/bin/$out ]] && return 0
  mkdir -p "$dir/src" "$dir/bin"
  (
    cd "$dir/src"
    [[ -f go.mod ]] || go mod init example.invalid/paved-node-bin >/dev/null 2>&1
    log "building $out from $mod"
    go get -tool "$mod" >&2
    go build -trimpath -tags "${BUILD_TAGS:-}" -ldflags "-s -w $ldflags" -o "$dir/bin/$out.tmp" "$pkg"
    mv "$dir/bin/$out.tmp" "$dir/bin/$out"
  )
}

k8s_dir=$cache/kubernetes-$KUBERNETES_VERSION
[[ -d $k8s_dir/src ]] || { echo "error: build the embedded toolchain first (paved local up)" >&2; exit 1; }
minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
for cmd in kubelet kubeadm kube-controller-manager kube-scheduler kube-proxy; do
  [[ -x $k8s_dir/bin/$cmd ]] && continue
  (
    cd "$k8s_dir/src"
    log "building $cmd $KUBERNETES_VERSION"
    go get -tool "k8s.io/kubernetes/cmd/$cmd@$KUBERNETES_VERSION" >&2
    go build -trimpath -tags=selinux,notest -ldflags "-s -w $k8s_ldflags" -o "$k8s_dir/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$k8s_dir/bin/$cmd.tmp" "$k8s_dir/bin/$cmd"
  )
done

ctrd=$cache/containerd-$CONTAINERD_VERSION
for cmd in containerd containerd-shim-runc-v2 ctr; do
  BUILD_TAGS="no_aufs no_zfs no_btrfs no_devmapper" go_tool "$ctrd" \
    "github.com/containerd/containerd/v2/cmd/$cmd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/$cmd" "$cmd" \
    "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
done
cni=$cache/cni-plugins-$CNI_PLUGINS_VERSION
for p in ipam/host-local main/loopback main/ptp main/bridge meta/portmap; do
  go_tool "$cni" "github.com/containernetworking/plugins/plugins/$p@$CNI_PLUGINS_VERSION" \
    "github.com/containernetworking/plugins/plugins/$p" "${p#*/}"
done
go_tool "$cache/coredns-$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" \
  github.com/coredns/coredns coredns
go_tool "$cache/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION" \
  "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION" \
  github.com/rancher/local-path-provisioner local-path-provisioner
go_tool "$cache/kind-$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION" sigs.k8s.io/kind kind

etcd=$(cat "$k8s_dir/etcd-version")
cat <<LIST
kubelet $k8s_dir/bin/kubelet
kubeadm $k8s_dir/bin/kubeadm
kubectl $k8s_dir/bin/kubectl
kube-apiserver $k8s_dir/bin/kube-apiserver
kube-controller-manager $k8s_dir/bin/kube-controller-manager
kube-scheduler $k8s_dir/bin/kube-scheduler
kube-proxy $k8s_dir/bin/kube-proxy
etcd $cache/etcd-$etcd/bin/etcd
containerd $ctrd/bin/containerd
containerd-shim-runc-v2 $ctrd/bin/containerd-shim-runc-v2
ctr $ctrd/bin/ctr
cni $cni/bin
coredns $cache/coredns-$COREDNS_VERSION/bin/coredns
local-path-provisioner $cache/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION/bin/local-path-provisioner
kind $cache/kind-$KIND_VERSION/bin/kind
LIST
