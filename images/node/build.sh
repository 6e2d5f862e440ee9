#!/usr/bin/env bash
# `make node-image`: builds paved's kind node image from Go modules and Debian's packages,
# pulling nothing from an image registry, and prints its tag (paved.dev/kind-node:<k8s>-<hash>).
#
# What kind's own `kind build node-image` does, done here without its pulls: a node base like
# kind's base image (systemd, containerd, runc, CNI plug-ins, kind's entrypoint and units), the
# Kubernetes binaries of the embedded platform's release, and the images kubeadm and kind's
# add-ons start (control plane, etcd, CoreDNS, pause, CNI, local-path-provisioner) loaded into
# the node's containerd. Cached: the tag is a hash of every input, and an existing tag is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${PAVED_CACHE_DIR:+$PAVED_CACHE_DIR/toolchain}
cache=${cache:-${XDG_CACHE_HOME:-$HOME/.cache}/paved/toolchain}
# shellcheck source=../builder.sh
source "$repo/images/builder.sh"
read -ra build <<<"$(builder)"
log() { printf '[paved node] %s\n' "$*" >&2; }

declare -A bin
while read -r name path; do bin[$name]=$path; done < <(bash "$here/build-binaries.sh" "$cache")

node_packages=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod
node_packages+=,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,hostname,runc,python3
node_base=$(bash "$repo/images/base.sh" kind-node "$node_packages")
tools_base=$(bash "$repo/images/base.sh" node-tools iptables,conntrack,nftables,ipset,kmod,iproute2)
kind_dir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')

inputs=$( {
  cat "$here/versions.env" "$here/build.sh" "$here/Dockerfile" "$here/pause.c" \
    "$repo/scripts/docker/paved_runc.py" "$here/build-binaries.sh" "$repo/images/base.sh"
  find "$here/files" -type f | sort | xargs cat
  echo "$node_base $tools_base"
} | sha256sum | cut -c1-12)
node_tag=paved.dev/kind-node:$KUBERNETES_VERSION-$inputs
if docker image inspect "$node_tag" >/dev/null 2>&1; then
  echo "$node_tag"
  exit 0
fi

work=$(mktemp -d)
container=""
cleanup() {
  [[ -n $container ]] && docker rm -f "$container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
k8s=registry.k8s.io
etcd_tag=$(basename "$(dirname "$(dirname "${bin[etcd]}")")" | sed 's/^etcd-v//')-0
# image|tag|base|binary|entrypoint
components=(
  "kube-apiserver|$k8s/kube-apiserver:$KUBERNETES_VERSION|scratch|kube-apiserver|"
  "kube-controller-manager|$k8s/kube-controller-manager:$KUBERNETES_VERSION|scratch|kube-controller-manager|"
  "kube-scheduler|$k8s/kube-scheduler:$KUBERNETES_VERSION|scratch|kube-scheduler|"
  "kube-proxy|$k8s/kube-proxy:$KUBERNETES_VERSION|$tools_base|kube-proxy|"
  "etcd|$k8s/etcd:$etcd_tag|scratch|etcd|"
  "coredns|$k8s/coredns/coredns:$COREDNS_VERSION|scratch|coredns|/usr/local/bin/coredns"
  "pause|$k8s/pause:3.10.2|scratch|pause|/usr/local/bin/pause"
  "local-path-provisioner|paved.dev/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION|scratch|local-path-provisioner|"
)
mkdir -p "$work/static" && gcc -O2 -static -o "$work/static/pause" "$here/pause.c"
bin[pause]=$work/static/pause
# The CNI DaemonSet's and local-path-provisioner's helper image: a shell, iproute2 and kubectl.
mkdir -p "$work/node-tools" && cp "${bin[kubectl]}" "$work/node-tools/"
printf 'FROM %s\nCOPY kubectl /usr/local/bin/kubectl\n' "$tools_base" >"$work/node-tools/Dockerfile"
"${build[@]}" -q -t paved.dev/node-tools:bookworm "$work/node-tools" >/dev/null
tags=(paved.dev/node-tools:bookworm)
for component in "${components[@]}"; do
  IFS='|' read -r name tag base binary entrypoint <<<"$component"
  mkdir -p "$work/$name" && cp "${bin[$binary]}" "$work/$name/$binary"
  {
    echo "FROM $base"
    echo "COPY $binary /usr/local/bin/$binary"
    echo "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ -n $entrypoint ]] && echo "ENTRYPOINT [\"$entrypoint\"]"
  } >"$work/$name/Dockerfile"
  log "image $tag"
  "${build[@]}" -q -t "$tag" "$work/$name" >/dev/null
  tags+=("$tag")
done

context=$work/node
mkdir -p "$context"/{bin,kube,cni,node}
cp -r "$kind_dir/images/base/files" "$context/kind-files" && chmod -R u+w "$context/kind-files"
rm -f "$context/kind-files/etc/containerd/config.toml"
cp -r "$here/files" "$context/node/files"
for b in containerd containerd-shim-runc-v2 ctr; do cp "${bin[$b]}" "$context/bin/"; done
for b in kubelet kubeadm kubectl; do cp "${bin[$b]}" "$context/kube/"; done
cp "${bin[cni]}"/* "$context/cni/"
cp "$repo/scripts/docker/paved_runc.py" "$context/paved-runc"
# kind's storage add-on, with the images built above.
python3 - "$kind_dir/pkg/build/nodeimage/const_storage.go" >"$context/node/files/kind/manifests/default-storage.yaml" <<PY
import sys
source = open(sys.argv[1]).read()
body = source.split("const defaultStorageManifest = \x60", 1)[1].rsplit("\x60", 1)[0]
body = body.replace("\x60 + storageProvisionerImage + \x60", "paved.dev/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION")
body = body.replace("\x60 + storageHelperImage + \x60", "paved.dev/node-tools:bookworm")
print(body.replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: Never"))
PY
log "node base from $node_base"
"${build[@]}" -q -f "$here/Dockerfile" --build-arg "NODE_BASE=$node_base" -t "$node_tag-unloaded" "$context" >/dev/null

log "loading ${#tags[@]} images into the node's containerd"
container=$(docker run -d --entrypoint sleep --security-opt seccomp=unconfined "$node_tag-unloaded" infinity)
docker exec "$container" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
docker exec "$container" bash -c 'for _ in $(seq 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1'
docker save "${tags[@]}" | docker exec -i "$container" \
  ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
echo "$KUBERNETES_VERSION" | docker exec -i "$container" tee /kind/version >/dev/null
# containerd stops cleanly on TERM (its PID 1 here is sleep, which leaves it a zombie: ask ctr).
docker exec "$container" bash -c 'pkill containerd; while ctr version >/dev/null 2>&1; do sleep 0.1; done; rm -f /var/log/containerd-build.log'
docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' --change 'CMD []' "$container" "$node_tag" >/dev/null
docker rm -f "$container" >/dev/null && container=""
docker rmi "$node_tag-unloaded" >/dev/null
echo "$node_tag"
