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
engine=github.com/argoproj/argo-cd/gitops-engine/v3

log() { printf '[paved toolchain] %s\n' "$*" >&2; }

[[ -x $dir/bin/argocd && -s $dir/crds/application-crd.yaml ]] && exit 0
mkdir -p "$dir/bin" && rm -rf "$dir/src" && mkdir -p "$dir/src" && cd "$dir/src"

# The module zips, checksummed against the sum database by `go mod download`. Extracted by hand:
# v3.6 declares `go 1.27.0` while the Go here may be older, and `go` refuses to unpack those.
unpack() { # MODULE DEST
  local zip
  # Exits 1 for the go line even when it downloaded and verified the zip: the zip decides.
  zip=$({ go mod download -json "$1@$version" || true; } | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Zip", ""))')
  [[ -s $zip ]] || { log "the module proxy did not serve $1@$version"; exit 1; }
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" unpacked
  mv "unpacked/$1@$version" "$2" && rm -rf unpacked
}
log "downloading Argo CD $version and its gitops-engine (first run downloads about 1 GB)"
unpack "$argocd" argo-cd
unpack "$engine" gitops-engine

# Lower a declared go line the local Go does not reach: the build then says whether the code
# needs the newer Go (v3.6.2 builds on Go 1.26 with the jsonv2 experiment).
local_go=$(go env GOVERSION | sed 's/^go//')
declared=$(sed -n 's/^go \([0-9.]*\)$/\1/p' argo-cd/go.mod)
go_line=$declared
if [[ $(printf '%s\n%s\n' "$declared" "$local_go" | sort -V | head -1) != "$declared" ]]; then
  log "Argo CD $version declares go $declared; building with the local go $local_go"
  go_line=$local_go
  for m in argo-cd gitops-engine; do (cd "$m" && go mod edit -go="$go_line"); done
  # What v3.6 needs of Go 1.27 is encoding/json/v2, an experiment in Go 1.25 and 1.26.
  export GOEXPERIMENT=jsonv2
fi

# A consumer module: upstream's replace directives apply only in the main module, so copy them,
# and point the two modules at the unpacked copies.
go mod init example.invalid/paved-argocd >/dev/null 2>&1
go mod edit -go="$go_line" -require="$argocd@$version" -replace="$argocd=./argo-cd"
go mod edit -replace="$engine=./gitops-engine"
go mod edit -json argo-cd/go.mod | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if new.get("Version"):
        print(r["Old"]["Path"] + "=" + new["Path"] + "@" + new["Version"])
' | while read -r replacement; do go mod edit -replace="$replacement"; done
cp argo-cd/go.sum go.sum

# Only the two commands paved runs, dispatched as upstream's cmd/main.go does: the multicall
# binary's server, CLI, dex and ApplicationSet SCM providers would double the build.
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
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/grpc"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func init() {
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

func main() {
	grpc.DisableSRVLookups()
	name := filepath.Base(os.Args[0])
	if value := os.Getenv("ARGOCD_BINARY_NAME"); value != "" {
		name = value
	}
	var command *cobra.Command
	switch name {
	case common.CommandApplicationController:
		command = appcontroller.NewCommand()
	case common.CommandRepoServer:
		command = reposerver.NewCommand()
	default:
		fmt.Fprintf(os.Stderr, "set ARGOCD_BINARY_NAME to %s or %s\n",
			common.CommandApplicationController, common.CommandRepoServer)
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
mkdir -p "$dir/crds"
cp argo-cd/manifests/crds/application-crd.yaml argo-cd/manifests/crds/appproject-crd.yaml "$dir/crds/"
mv "$dir/bin/argocd.tmp" "$dir/bin/argocd"
echo "built $dir/bin/argocd"
