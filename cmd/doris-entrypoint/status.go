package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/supervisor/control"
	"github.com/apache/doris-entrypoint/supervisor/modes"
)

// settingsFor loads the settings of a command that reads only sc; a bad
// value is reported as cmd's usage error.
func settingsFor(cmd string, sc scope, stopTimeout time.Duration, getenv lookupEnv, stderr io.Writer) (Settings, bool) {
	s, err := loadSettings(sc, stopTimeout, getenv, nil)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint %s: %v\n", cmd, err)
		return s, false
	}
	return s, true
}

// usage prints a small command's usage text and variables on stderr: exit 0
// when arg asked for help, exitUsage otherwise.
func usage(stderr io.Writer, text string, sc scope, arg string) int {
	fmt.Fprint(stderr, text)
	printEnv(stderr, sc, 0)
	if arg == "-h" || arg == "--help" || arg == "-help" {
		return 0
	}
	return exitUsage
}

// runStatus prints what the running supervisor is doing, for a human inside
// the pod (kubectl exec): its /status, with the command and conf from the
// state file. --json prints /status as it is.
func runStatus(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	asJSON := len(args) == 1 && args[0] == "--json"
	if len(args) > 0 && !asJSON {
		return usage(stderr, "Usage: doris-entrypoint status [--json]\n\nPrint the supervisor's mode, child, ports, probes and the next step\n"+
			"(--json: the probe endpoint's /status document).\n", inStatus, args[0])
	}
	s, ok := settingsFor("status", inStatus, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	root := s.DorisRoot
	ep, epErr := probes.RecordedStatus(runtimeFile(root, "probe.addr"))
	if asJSON {
		if epErr != nil {
			fmt.Fprintf(stderr, "doris-entrypoint status: %v\n", epErr)
			return 1
		}
		b, _ := json.MarshalIndent(ep, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	st, err := modes.ReadState(runtimeFile(root, "state.json"))
	if err != nil && epErr != nil {
		fmt.Fprintf(stderr, "doris-entrypoint status: no supervisor state (%v; %v); is doris-entrypoint fe/be PID 1 here?\n", err, epErr)
		return 1
	}
	probes.PrintStatus(stdout, st, ep, epErr)
	return 0
}

// runDebug implements `doris-entrypoint debug run`: start the component in
// the foreground on the moved ports, only in debug mode.
func runDebug(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "run" {
		return usage(stderr, "Usage: doris-entrypoint debug run\n\nIn debug mode, start the component in the foreground on the moved ports.\n",
			inDebug, strings.Join(args, " "))
	}
	s, ok := settingsFor("debug run", inDebug, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	err := modes.DebugRun(runtimeFile(s.DorisRoot, "state.json"), stdout)
	fmt.Fprintf(stderr, "doris-entrypoint debug run: %v\n", err)
	if errors.As(err, new(*modes.ExecFailed)) {
		return 126 // the exec itself failed; 1: refused
	}
	return 1
}

// runPrestop implements the operator's preStop hook (fe_prestop.sh,
// be_prestop.sh): ask PID 1 over its control socket to stop gracefully and
// wait until the stop is complete or its stop timeout has passed. Today's FE
// preStop is a kill -9 of the JVM.
func runPrestop(argv0 string, args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return usage(stderr, "Usage: doris-entrypoint prestop\n\nAsk the supervisor (PID 1) to stop gracefully and wait for it.\n", inPrestop, args[0])
	}
	c := cluster.FE // doris-entrypoint prestop
	for _, comp := range cluster.Components {
		if argv0 == comp.Prestop {
			c = comp
		}
	}
	opts, ok := settingsFor("prestop", inPrestop, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = c.StopTimeoutIn(opts.DorisRoot, "") // the ConfigMap is linked in by now
	}
	// The supervisor SIGKILLs what is left at its stop timeout and exits:
	// wait a little longer than that. On "stopped" the supervisor waits for
	// this process to exit (control.go, step 4): return at once.
	code, stopped, err := control.Stop(runtimeFile(opts.DorisRoot, "control.sock"), opts.StopTimeout+5*time.Second)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "doris-entrypoint prestop: %v\n", err)
		return 1
	case !stopped:
		fmt.Fprintf(stdout, "doris-entrypoint prestop: still stopping after %s\n", opts.StopTimeout+5*time.Second)
	case code >= 0:
		fmt.Fprintf(stdout, "doris-entrypoint prestop: stopped (exit code %d)\n", code)
	default:
		fmt.Fprintln(stdout, "doris-entrypoint prestop: stopped")
	}
	return 0
}
