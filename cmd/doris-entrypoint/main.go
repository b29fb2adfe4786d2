// Command doris-entrypoint is PID 1 in the Apache Doris FE, BE and CN
// container images: it starts start_fe.sh / start_be.sh in the foreground,
// forwards signals to it, reaps every zombie, and stops gracefully within a
// deadline.
//
// # Invocation
//
// The commands are fe, be, supervise, prestop, status, probe, debug run,
// doris-debug and version: `doris-entrypoint --help` (topUsage in cli.go)
// and the README list them.
//
// The program picks its role from argv[0] when it is invoked through the
// operator's paths (/opt/apache-doris/fe_entrypoint.sh, be_entrypoint.sh),
// busybox style, so the images only need links to one binary.
//
// # Environment
//
// Every setting comes from the environment, which is how Kubernetes
// configures containers, and the operator's own variables keep their names.
// Each variable is declared once, in settings.go ([variables]: name,
// default, documentation, parser); `<command> --help` prints a command's
// list from there, and a test holds the README's table to it. An invalid
// value is exit 2 with one line naming the variable, before anything starts.
//
// # Layout
//
// This package dispatches and wires; the packages decide: cluster (the Doris
// cluster: client, FE/BE/CN table, identity, join and registration),
// confpatch (the conf files), supervisor (PID 1) and supervisor/modes (debug
// mode), probes (the probe endpoint).
//
// # Exit codes
//
// One rule for every command: 0 done; 1 the operation failed or was refused
// (scale-in unsafe, upgrade check not safe, probe failing, no supervisor to
// ask); 2 a usage error or invalid input (command line, flag, variable,
// basic-auth username), found before anything starts or is asked, with one
// line or the usage on stderr. Words are case-sensitive: a scale-in kind is
// be, cn or fe. The supervising commands (fe, be, broker, supervise) exit
// with the main child's exit code, or 128+signal when a signal killed it;
// 126 when the program is not executable, 127 when it is not found; 143 when
// SIGTERM arrived before the child could be started.
package main

import (
	"os"
	"runtime"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/earlystart/hold"
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
	if !supervises(os.Args) {
		hold.Release() // held since the entry point for NotifySignals; Go's default here
	}
	os.Exit(run(os.Args, os.LookupEnv, os.Stdout, os.Stderr))
}

// supervises reports whether args ask for a command that starts the
// supervisor (fe, be, broker, supervise).
func supervises(args []string) bool {
	cmd, _ := command(args)
	_, component := cluster.Components[cmd]
	return component || cmd == "supervise"
}
