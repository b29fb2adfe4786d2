#!/bin/sh
# Builds, from local files only (no registry), a stand-in for the official
# apache/doris FE/BE/broker images, then images/fe, images/be and
# images/broker on top of it with the local binary:
#
#   [DORIS_VERSION=doris-2.1.6-rc01-0123456789] images/standin/build.sh BINARY [TAG]
#
# BINARY is a doris-entrypoint built by `make build`; TAG (default "test")
# names localhost/doris-standin:TAG and localhost/doris-entrypoint-{fe,be,broker}:TAG.
# DORIS_VERSION (default the fake's DefaultVersion, doris-2.1.5-rc02-d5a02e095d)
# is the Doris version the images report, as a real build does: in
# fe/lib/doris-fe.jar (Version.class), be/lib/doris_be --version, and the
# fake nodes' Version columns (FAKE_DORIS_VERSION); a second TAG with another
# DORIS_VERSION is the image a rolling upgrade moves to.
#
# The stand-in: Debian's busybox-static as /bin, and the fake Doris of test/
# (test/helper: fake-fe / fake-be / fake-broker on the conf's ports, the real
# MySQL protocol and /api/health bodies) laid out as
# /opt/apache-doris/{fe,be,apache_hdfs_broker} with bin/start_*.sh that run the
# fake "JVM" as a child and wait for it, as the real scripts run java, and
# conf/*.conf with the default ports.
set -eu
bin=$(realpath "$1")
tag=${2:-test}
repo=$(cd "$(dirname "$0")/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/images/containers.conf}"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "build.sh: busybox-static is needed (apt-get install busybox-static)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || [ ! -x /usr/bin/file ] ||
	{ echo "build.sh: $busybox is not static (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/opt/apache-doris/fake"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
# The operator's readiness probe in FQDN mode, its default, is
#   bash -c 'host=$(hostname -f); (getent hosts "$host" || nslookup "$host") && curl --fail --silent ... /api/health'
# (apache/doris-operator pkg/common/utils/resource/pod.go, buildFQDNReadinessExecProbe), and the apache/doris base
# has all of them: the stand-in carries this machine's bash, getent and curl with the libraries they load, beside
# busybox's hostname and nslookup, so that the probe runs for real.
# The mysql client (Debian's default-mysql-client: MariaDB's) comes along the same way, so that
# `kubectl exec fe-0 -- mysql -uroot -P9030 -h127.0.0.1 -e 'show frontends'` works in a pod.
for b in bash getent curl mysql; do
	p=$(command -v "$b") || { echo "build.sh: $b is needed (apt-get install bash libc-bin curl default-mysql-client)" >&2; exit 1; }
	mkdir -p "$root/usr/bin"
	cp -L "$p" "$root/usr/bin/$b"
	for lib in $(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$root/opt/apache-doris/fake/doris-fake" ./test/helper)
fake=$root/opt/apache-doris/fake/doris-fake
version=${DORIS_VERSION:-$("$fake" default-version)}
case $version in
*[!A-Za-z0-9._-]* | "") echo "build.sh: DORIS_VERSION=$version: only letters, digits, '.', '_' and '-'" >&2; exit 1 ;;
esac
# The version where Doris keeps it: Version.class in the FE's jar, and a
# doris_be that answers --version (it runs nothing else: start_be.sh runs
# the fake).
mkdir -p "$root/opt/apache-doris/be/lib"
"$fake" fe-jar "$root/opt/apache-doris/fe/lib/doris-fe.jar" "$version"
cat >"$root/opt/apache-doris/be/lib/doris_be" <<SCRIPT
#!/bin/sh
# Stand-in doris_be: --version prints what the real binary prints.
case "\${1:-}" in
--version) printf '%s\nBuilt on Thu, 01 Aug 2024 00:00:00 UTC by doris-standin\n' '$("$fake" be-version "$version")'; exit 0 ;;
esac
echo "stand-in doris_be: only --version; start_be.sh runs the fake BE" >&2
exit 1
SCRIPT
chmod 755 "$root/opt/apache-doris/be/lib/doris_be"

for comp in fe be; do
	d=$root/opt/apache-doris/$comp
	mkdir -p "$d/bin" "$d/conf" "$d/log"
	cat >"$d/bin/start_$comp.sh" <<SCRIPT
#!/bin/sh
# Stand-in start_$comp.sh: like the real one, runs the server as a child and
# waits (no exec); the fake server is test/helper fake-$comp.
echo "start_$comp.sh: starting $comp with \$*"
# FAKE_CRASH=1 plays a server that fails at once (a crash loop).
[ -z "\${FAKE_CRASH:-}" ] || { echo "start_$comp.sh: crashing (FAKE_CRASH)"; exit 1; }
# FAKE_CRASH_FILE=PATH: the same while PATH exists (a cause a debug session can remove).
[ -z "\${FAKE_CRASH_FILE:-}" ] || [ ! -e "\$FAKE_CRASH_FILE" ] || { echo "start_$comp.sh: crashing (\$FAKE_CRASH_FILE exists)"; exit 1; }
/opt/apache-doris/fake/doris-fake fake-$comp /opt/apache-doris/$comp/conf/$comp.conf "\$@" &
wait \$!
SCRIPT
	chmod 755 "$d/bin/start_$comp.sh"
done
cat >"$root/opt/apache-doris/fe/conf/fe.conf" <<'CONF'
# stand-in fe.conf: the lines of the real default that a rewriter can break
CUR_DATE=`date +%Y%m%d-%H%M%S`
LOG_DIR = ${DORIS_HOME}/log
JAVA_OPTS="-Dfile.encoding=UTF-8 -Xmx8192m -Xloggc:$LOG_DIR/log/fe.gc.log.$CUR_DATE"
meta_dir = ${DORIS_HOME}/doris-meta
http_port = 8030
rpc_port = 9020
query_port = 9030
edit_log_port = 9010
CONF
cat >"$root/opt/apache-doris/be/conf/be.conf" <<'CONF'
# stand-in be.conf
CUR_DATE=`date +%Y%m%d-%H%M%S`
PPROF_TMPDIR="$DORIS_HOME/log/"
JEMALLOC_CONF="percpu_arena:percpu,background_thread:true,metadata_thp:auto"
be_port = 9060
webserver_port = 8040
heartbeat_service_port = 9050
brpc_port = 8060
CONF
# The broker (apache/doris fs_brokers/apache_hdfs_broker): start_broker.sh
# without --daemon runs the JVM in the foreground.
d=$root/opt/apache-doris/apache_hdfs_broker
mkdir -p "$d/bin" "$d/conf" "$d/log"
cat >"$d/bin/start_broker.sh" <<'SCRIPT'
#!/bin/sh
# Stand-in start_broker.sh: runs the server as a child and waits; the fake
# server is test/helper fake-broker.
echo "start_broker.sh: starting broker with $*"
/opt/apache-doris/fake/doris-fake fake-broker /opt/apache-doris/apache_hdfs_broker/conf/apache_hdfs_broker.conf "$@" &
wait $!
SCRIPT
chmod 755 "$d/bin/start_broker.sh"
cat >"$d/conf/apache_hdfs_broker.conf" <<'CONF'
# stand-in apache_hdfs_broker.conf
# the thrift rpc port
broker_ipc_port = 8000
client_expire_seconds = 300
CONF
# The official images' entrypoint scripts, which images/ replaces with links.
for s in fe_entrypoint.sh be_entrypoint.sh fe_prestop.sh be_prestop.sh broker_entrypoint.sh broker_prestop.sh broker_is_alive.sh; do
	printf '#!/bin/sh\necho "the original %s: replaced by doris-entrypoint in images/"\nexit 1\n' "$s" >"$root/opt/apache-doris/$s"
	chmod 755 "$root/opt/apache-doris/$s"
done

tar -C "$root" -c . | podman import \
	--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
	--change 'ENV FAKE_DIR=/opt/apache-doris/fe' \
	--change 'ENV FAKE_BIND_HOST=0.0.0.0' \
	--change "ENV FAKE_DORIS_VERSION=$version" \
	--change 'WORKDIR /opt/apache-doris' \
	--quiet - "localhost/doris-standin:$tag" >/dev/null

ctx=$work/context
mkdir -p "$ctx/bin"
cp "$bin" "$ctx/bin/doris-entrypoint"
for comp in fe be broker; do
	podman build --quiet -f "$repo/images/$comp/Dockerfile" --target local \
		--build-arg "BASE_IMAGE=localhost/doris-standin:$tag" \
		--build-arg "DORIS_VERSION=${version#doris-}" \
		--build-arg "VERSION=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)" \
		--build-arg "REVISION=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
		-t "localhost/doris-entrypoint-$comp:$tag" "$ctx" >/dev/null
	echo "built localhost/doris-entrypoint-$comp:$tag ($version)"
done
