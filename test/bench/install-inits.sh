#!/bin/sh
# Installs what make bench needs: the inits to compare against (Debian's
# tini, dumb-init, catatonit) and gcc with a static libc for the probe.
set -eu
missing=""
for p in tini:tini dumb-init:dumb-init catatonit:catatonit gcc:gcc unshare:util-linux; do
	command -v "${p%%:*}" >/dev/null 2>&1 || missing="$missing ${p#*:}"
done
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || missing="$missing libc6-dev"
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing
fi
