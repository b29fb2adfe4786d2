// Command doris-entrypoint is PID 1 in the Apache Doris FE, BE and CN
// container images: it starts start_fe.sh / start_be.sh in the foreground,
// forwards signals to it, reaps every zombie, and stops gracefully within a
// deadline.
//
// # Invocation
//
//	doris-entrypoint fe [FE_ADDRS]          FE supervisor (also as fe_entrypoint.sh)
//	doris-entrypoint be FE_ADDRS            BE / CN supervisor (also as be_entrypoint.sh)
//	doris-entrypoint supervise [--] CMD...  generic PID 1 for any command
//	doris-entrypoint prestop                preStop hook: stop PID 1 gracefully, wait (also as fe_prestop.sh, be_prestop.sh)
//	doris-entrypoint status [--json]        mode, child, ports, probes, next step (inside the pod)
//	doris-entrypoint probe live|ready|startup  exec probe against the probe endpoint: exit 0 or 1 (ready --wait D: long poll)
//	doris-entrypoint debug run              in debug mode: start the component on the moved ports
//	doris-entrypoint version                version, commit, Go version
//
// The program picks its role from argv[0] when it is invoked through the
// operator's paths (/opt/apache-doris/fe_entrypoint.sh, be_entrypoint.sh),
// busybox style, so the images only need links to one binary.
//
// # Environment
//
// Every setting comes from the environment, which is how Kubernetes configures
// containers; a flag of the same meaning overrides it.
//
//   - DORIS_ROOT (default /opt/apache-doris): the Doris install root. fe runs
//     $DORIS_ROOT/fe/bin/start_fe.sh --console, be runs
//     $DORIS_ROOT/be/bin/start_be.sh --console, both with $DORIS_ROOT as the
//     working directory. Flag --doris-root.
//
//   - DORIS_ENTRYPOINT_STOP_TIMEOUT (default fe 300s, be 180s, supervise 30s):
//     how long a graceful stop may take, from SIGTERM until whatever is left
//     gets SIGKILL; whole seconds ("300") or a Go duration ("5m"). Keep it below
//     the pod's terminationGracePeriodSeconds (operator: FE 330 s, BE 200 s).
//     Flag --stop-timeout.
//
//   - DORIS_ENTRYPOINT_LOG_FORMAT (default json): json, one object per line on
//     stderr, or console for humans. Flag --log-format.
//
//   - DORIS_ENTRYPOINT_PODINFO_DIR (default /etc/podinfo): the downward-API
//     volume; the annotation selectdb.com.doris/runmode=debug (or
//     apache.org.doris/runmode) in its "annotations" file switches fe/be to
//     debug mode and back, while running.
//
//   - DORIS_ENTRYPOINT_PROBE_ADDR (default :8099): where fe/be serve /livez,
//     /readyz, /startupz, /status and /metrics (package probes); empty
//     disables the endpoint. The bound address is recorded in
//     $DORIS_ROOT/.doris-entrypoint/probe.addr for `status`; `probe` dials
//     this address (an unspecified host means loopback) unless --addr says
//     otherwise.
//
//   - DORIS_ENTRYPOINT_PROBE_INTERVAL (default 5s): how often the endpoint's
//     background checks run; a result older than three intervals fails.
//
//   - DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET (default 10000): how far debug mode
//     moves the FE query_port/http_port and the BE
//     heartbeat_service_port/webserver_port in the conf.
//
//   - DORIS_ENTRYPOINT_CONNECT_TIMEOUT (default 2s) and
//     DORIS_ENTRYPOINT_QUERY_TIMEOUT (default 15s): each connection to and
//     query of an FE (the probe checks cap both at their interval).
//
//   - DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT (default 60s): FE ordinal 0 on a first
//     start waits this long for any FE to answer before it bootstraps a new
//     cluster; DORIS_ENTRYPOINT_MASTER_WAIT (default 180s): a first-start FE
//     waits this long for a master before it fails.
//
// fe and be read the operator's variables too (README.md has the table):
// FE_QUERY_PORT (9030), the port of the FE_ADDRS addresses; USER and PASSWD,
// the admin account tried when root without a password is refused
// (/etc/basic_auth/{username,password} override them; a password is never
// logged); POD_FQDN and POD_IP, how the cluster knows this pod; HOST_TYPE=IP
// to register a BE by POD_IP; ELECT_NUMBER (3), FE followers vs observers;
// CONFIGMAP_MOUNT_PATH (/etc/doris), conf files linked in at start;
// ENABLE_WORKLOAD_GROUP (BE cgroups); KRB5_MOUNT_PATH, KRB5_CONFIG,
// KEYTAB_MOUNT_PATH and KEYTAB_FINAL_USED_PATH (Kerberos files linked in).
//
// # Exit codes
//
// The main child's exit code, or 128+signal when a signal killed it; 126 when
// the program is not executable, 127 when it is not found; 2 for a usage
// error; 143 when SIGTERM arrived before the child could be started.
package main

import (
	"os"
	"runtime"
)

// Set at link time by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// One P is plenty for PID 1, and it keeps the runtime from waking extra
	// threads to spin for work on a small node's CPUs, which the child needs
	// at exactly those moments (a forwarded signal, a burst of exits).
	runtime.GOMAXPROCS(1)
	os.Exit(run(os.Args, os.LookupEnv, os.Stdout, os.Stderr))
}
