#!/bin/sh
# Builds localhost/golang-standin:TAG from this machine's Go toolchain
# (/usr/local/go), a static busybox and make, so that the Dockerfiles'
# golang builder stage can be exercised without a registry:
#
#   images/standin/golang.sh [TAG]
#   podman build -f images/fe/Dockerfile --build-arg GOLANG_IMAGE=localhost/golang-standin:TAG ...
#
# The builder stage downloads the modules through the Go module proxy.
set -eu
tag=${1:-local}
repo=$(cd "$(dirname "$0")/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/images/containers.conf}"
goroot=$(go env GOROOT)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/usr/bin" "$root/usr/local" "$root/etc/ssl/certs" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $(busybox --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
make=$(command -v make)
cp "$make" "$root/usr/bin/make"
# make's shared libraries and loader, as ldd lists them.
for lib in $(ldd "$make" | awk '/=>/ {print $3} !/=>/ && /^\t\// {print $1}'); do
	mkdir -p "$root$(dirname "$lib")"
	cp "$lib" "$root$lib"
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -a "$goroot" "$root/usr/local/go"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
tar -C "$root" -c . | podman import --quiet \
	--change 'ENV PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin' \
	--change 'ENV GOPATH=/go' \
	- "localhost/golang-standin:$tag" >/dev/null
echo "built localhost/golang-standin:$tag ($(go version))"
