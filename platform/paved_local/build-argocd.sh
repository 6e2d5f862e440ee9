#!/usr/bin/env bash
# Builds Argo CD's application controller and repo server from Go modules into a per-version cache.
# Usage: build-argocd.sh CACHE_DIR ARGOCD_VERSION
# Leaves CACHE_DIR/argo-cd-VERSION/bin/argocd (one binary: argocd-application-controller or
# argocd-repo-server by ARGOCD_BINARY_NAME, as upstream's cmd/main.go) and crds/ (the module's
# manifests/crds). Idempotent: an existing binary is not rebuilt.
set -euo pipefail
cache=$1 version=$2
export GOTOOLCHAIN=local CGO_ENABLED=0
dir=$cache/argo-cd-$version
argocd=github.com/argoproj/argo-cd/v3

log() { printf '[paved toolchain] %s\n' "$*" >&2; }

[[ -x $dir/bin/argocd && -s $dir/crds/application-crd.yaml ]] && exit 0
mkdir -p "$dir/bin" && rm -rf "$dir/src" && mkdir -p "$dir/src" && cd "$dir/src"

log "reading $argocd@$version's go.mod from the module proxy"
# `go mod download` exits 1 for a go line newer than this Go, after fetching the file.
upstream=$({ go mod download -json "$argocd@$version" || true; } |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("GoMod", ""))')
[[ -s $upstream ]] || { log "the module proxy did not serve $argocd@$version"; exit 1; }
# The go line is a floor: v3.6 uses Go 1.27's struct literals that set an embedded struct's
# fields directly, which no older Go compiles.
go_line=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream")
local_go=$(go env GOVERSION | sed 's/^go//')
if [[ $(printf '%s\n%s\n' "$go_line" "$local_go" | sort -V | head -1) != "$go_line" ]]; then
  log "Argo CD $version needs Go $go_line or newer; this is Go $local_go"
  exit 1
fi

# A consumer module. Upstream's replace directives apply only in the main module: copy them; one
# to a path inside Argo CD's repository (v3.6's gitops-engine) becomes that module's release.
go mod init example.invalid/paved-argocd >/dev/null 2>&1
go mod edit -go="$go_line" -require="$argocd@$version"
go mod edit -json "$upstream" | python3 -c '
import json, sys
version = sys.argv[1]
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"]["Path"], r["New"]
    target = new["Path"] + "@" + new["Version"] if new.get("Version") else old + "@" + version
    print(old + "=" + target)
' "$version" | while read -r replacement; do go mod edit -replace="$replacement"; done

# Only the two commands paved runs, dispatched as upstream's cmd/main.go does: the multicall
# binary's API server, CLI, Dex and ApplicationSet SCM providers would double the build.
mkdir -p cmd/argocd
cat >cmd/argocd/main.go <<'EOF'
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func init() {
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

func main() {
	name := filepath.Base(os.Args[0])
	if value := os.Getenv("ARGOCD_BINARY_NAME"); value != "" {
		name = value
	}
	var command *cobra.Command
	switch name {
	case "argocd-application-controller":
		command = appcontroller.NewCommand()
	case "argocd-repo-server":
		command = reposerver.NewCommand()
	default:
		fmt.Fprintln(os.Stderr, "set ARGOCD_BINARY_NAME to argocd-application-controller or argocd-repo-server")
		os.Exit(2)
	}
	if err := command.Execute(); err != nil {
		os.Exit(1)
	}
}
EOF
log "resolving Argo CD's modules"
go mod tidy >&2

p=$argocd/common
ldflags="-s -w -X $p.version=${version#v} -X $p.gitTag=$version -X $p.gitTreeState=clean"
log "building Argo CD $version (application controller and repo server; long on 2 cores)"
go build -trimpath -ldflags "$ldflags" -o "$dir/bin/argocd.tmp" ./cmd/argocd
module=$(go list -m -f '{{.Dir}}' "$argocd")
mkdir -p "$dir/crds"
cp "$module/manifests/crds/application-crd.yaml" "$module/manifests/crds/appproject-crd.yaml" "$dir/crds/"
mv "$dir/bin/argocd.tmp" "$dir/bin/argocd"
echo "built $dir/bin/argocd"
