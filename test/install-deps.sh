#!/bin/sh
# Installs from Debian what the tests use and this machine lacks, and does
# nothing when everything is there (make test and make e2e run it first):
#
#   test/install-deps.sh       make test: unshare and nsenter (util-linux: the
#                              binary as PID 1 of a new PID namespace), mysql
#                              (default-mysql-client: the real client checks our
#                              MySQL answers), podman, runc (crun refuses these
#                              VMs' cgroup v1 hybrid) and a static busybox
#                              (busybox-static: the stand-in base image, with
#                              curl and getent for the operator's readiness
#                              probe) for the container tests
#   test/install-deps.sh e2e   the same, and etcd, containerd, the bridge,
#                              host-local and loopback CNI plugins, iptables
#                              and iproute2 for the real Kubernetes of test/e2e
#
# apt-get runs (as root, or through sudo -n) only when something is missing.
set -eu
missing=""
need() { missing="$missing $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

{ have unshare && have nsenter; } || need util-linux
have mysql || need default-mysql-client
have podman || need podman
have runc || need runc
busybox=$(command -v busybox || true)
# ldd fails on a static binary ("not a dynamic executable").
{ [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; } || need busybox-static
# The stand-in base carries curl and getent for the operator's FQDN readiness probe.
have curl || need curl
have getent || need libc-bin
if [ "${1:-}" = e2e ]; then
	have etcd || need etcd-server
	have containerd || need containerd
	{ [ -x /usr/lib/cni/loopback ] && [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ]; } ||
		need containernetworking-plugins
	have iptables || need iptables
	have ip || need iproute2
fi
[ -n "$missing" ] || exit 0

echo "install-deps.sh: installing$missing" >&2
have apt-get || { echo "install-deps.sh: no apt-get here; install$missing by hand" >&2; exit 1; }
sudo=""
if [ "$(id -u)" != 0 ]; then
	have sudo || { echo "install-deps.sh: not root and no sudo; install$missing as root" >&2; exit 1; }
	sudo="sudo -n"
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
