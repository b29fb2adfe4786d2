#!/bin/sh
# Builds kube-apiserver, kube-controller-manager, kube-scheduler,
# kube-proxy, kubelet and kubectl of one Kubernetes version from the Go
# module proxy into a cache outside the repository, once:
#
#   test/e2e/build-kube.sh [CACHE_DIR]      (default ${DORIS_E2E_CACHE:-/var/cache/doris-entrypoint-e2e})
#
# prints the directory holding the six binaries; one already there is not
# built again. A scratch module (never
# this repository's go.mod) requires k8s.io/kubernetes and replaces each
# staging module its go.mod points at ./staging/... with the same path at
# v0.MINOR.PATCH. Cold: ~15 min on 2 cores (they share most packages).
set -eu
version=v1.34.4
cache=${1:-${DORIS_E2E_CACHE:-/var/cache/doris-entrypoint-e2e}}
out=$cache/kube-$version
cmds="kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl"
todo=""
for cmd in $cmds; do
	[ -x "$out/$cmd" ] || todo="$todo $cmd"
done
if [ -z "$todo" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out/src"
cd "$out/src"
staging=v0.${version#v1.}
[ -f go.mod ] || go mod init doris-entrypoint-e2e/kube >/dev/null 2>&1
export GOFLAGS=-mod=mod
go mod download -json "k8s.io/kubernetes@$version" >/dev/null
kmod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$version.mod
go mod edit -require="k8s.io/kubernetes@$version"
for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$kmod"); do
	go mod edit -replace="$m=$m@$staging"
done
rm -f tools.go; cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
go mod tidy -e >/dev/null 2>&1 || true
ld="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
ld="$ld -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
for cmd in $todo; do
	CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
	mv "$out/$cmd.tmp" "$out/$cmd"
done
echo "$out"
