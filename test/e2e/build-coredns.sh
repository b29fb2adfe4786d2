#!/bin/sh
# Builds CoreDNS, with only the plugins the e2e cluster's DNS uses, from the
# Go module proxy into a cache outside the repository, once:
#
#   test/e2e/build-coredns.sh [CACHE_DIR]   (default ${DORIS_E2E_CACHE:-/var/cache/doris-entrypoint-e2e})
#
# prints the path of the binary. A scratch module (never this repository's
# go.mod) holds a main that is CoreDNS's own (coremain.Run) with a shorter
# plugin list: no forward, so the cluster's DNS cannot ask anything off the
# machine even if a Corefile said so. v1.13.2 is built on client-go v0.34,
# the cluster's minor. Cold: ~2-3 min on 2 cores.
set -eu
version=v1.13.2
cache=${1:-${DORIS_E2E_CACHE:-/var/cache/doris-entrypoint-e2e}}
out=$cache/coredns-$version
if [ -x "$out/coredns" ]; then
	echo "$out/coredns"
	exit 0
fi
mkdir -p "$out/src"
cd "$out/src"
[ -f go.mod ] || go mod init doris-entrypoint-e2e/coredns >/dev/null 2>&1
export GOFLAGS=-mod=mod
cat >main.go <<'GO'
// Command coredns is CoreDNS with the plugins of a cluster.local-only
// cluster DNS (in the order of CoreDNS' plugin.cfg, which is the order they
// run in).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
GO
go mod edit -require="github.com/coredns/coredns@$version"
go mod tidy >/dev/null 2>&1 || go mod tidy -e >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns.tmp" . >&2
mv "$out/coredns.tmp" "$out/coredns"
echo "$out/coredns"
