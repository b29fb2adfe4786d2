package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/control"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

func dorisRootOf(getenv lookupEnv) string { return stringEnv(getenv, envDorisRoot) }

// stringEnv is v's value, or its default when unset or empty.
func stringEnv(getenv lookupEnv, v envVar) string {
	if s, ok := getenv(v.name); ok && s != "" {
		return s
	}
	return v.def
}

// runStatus prints what the running supervisor is doing, for a human inside
// the pod (kubectl exec): its /status, with the command and conf from the
// state file. --json prints /status as it is.
func runStatus(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	asJSON := len(args) == 1 && args[0] == "--json"
	if len(args) > 0 && !asJSON {
		fmt.Fprintf(stderr, "Usage: doris-entrypoint status [--json]\n\nPrint the supervisor's mode, child, ports, probes and the next step\n"+
			"(--json: the probe endpoint's /status document).\nEnvironment: %s (default %s), %s (default %s)\n",
			envDorisRoot.name, envDorisRoot.def, envProbeAddr.name, envProbeAddr.def)
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			return 0
		}
		return exitUsage
	}
	root := dorisRootOf(getenv)
	ep, epErr := statusFromEndpoint(root)
	if asJSON {
		if epErr != nil {
			fmt.Fprintf(stderr, "doris-entrypoint status: %v\n", epErr)
			return 1
		}
		b, _ := json.MarshalIndent(ep, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	st, err := modes.ReadState(stateFile(root))
	if err != nil && epErr != nil {
		fmt.Fprintf(stderr, "doris-entrypoint status: no supervisor state (%v; %v); is doris-entrypoint fe/be PID 1 here?\n", err, epErr)
		return 1
	}
	if epErr == nil {
		// The endpoint is live; the file only adds the command and conf.
		st.Component, st.Mode, st.Phase, st.Since, st.Restarts, st.LastExit, st.Problem =
			ep.Component, ep.Mode, ep.Phase, ep.Since, ep.Restarts, ep.LastExit, ep.Problem
		st.ChildPID = ep.Child.PID
	}
	name := strings.ToUpper(st.Component)
	fmt.Fprintf(stdout, "component: %s\n", st.Component)
	fmt.Fprintf(stdout, "mode:      %s (since %s, %s)\n", st.Mode, st.Since.Format("2006-01-02T15:04:05Z"), st.Phase)
	if st.ChildPID > 0 {
		fmt.Fprintf(stdout, "child:     pid %d: %s\n", st.ChildPID, strings.Join(st.Command, " "))
	} else {
		fmt.Fprintf(stdout, "child:     none\n")
	}
	if st.Restarts > 0 || st.LastExit != nil {
		last := "none"
		if st.LastExit != nil {
			last = strconv.Itoa(*st.LastExit)
		}
		fmt.Fprintf(stdout, "restarts:  %d (last exit code %s)\n", st.Restarts, last)
	}
	for i, p := range st.Ports {
		label := "ports:    "
		if i > 0 {
			label = "          "
		}
		fmt.Fprintf(stdout, "%s %s %d → %d\n", label, p.Key, p.From, p.To)
	}
	fmt.Fprintf(stdout, "conf:      %s\n", st.Conf)
	if st.Marker != "" {
		fmt.Fprintf(stdout, "marker:    %s (the original conf, restored on leaving)\n", st.Marker)
	}
	if st.Problem != "" {
		fmt.Fprintf(stdout, "problem:   %s\n", st.Problem)
	}
	if epErr != nil {
		fmt.Fprintf(stdout, "probes:    unknown (%v)\n", epErr)
	} else {
		for i, k := range []string{"live", "ready", "startup"} {
			label := "probes:   "
			if i > 0 {
				label = "          "
			}
			p := ep.Probes[k]
			fmt.Fprintf(stdout, "%s %-7s %s  %s\n", label, k, passFail(p.OK), p.Reason)
		}
		names := make([]string, 0, len(ep.Checks))
		for k := range ep.Checks {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			label := "checks:   "
			if i > 0 {
				label = "          "
			}
			c := ep.Checks[k]
			fmt.Fprintf(stdout, "%s %-10s %s  %.1fs ago, took %.0f ms  %s\n", label, k, passFail(c.OK), c.AgeSeconds, c.TookMillis, c.Reason)
		}
	}
	if st.Mode == "debug" {
		fmt.Fprintf(stdout, "next:      `doris-entrypoint debug run` starts the %s by hand on the moved ports;\n", name)
		fmt.Fprintf(stdout, "           to leave: kubectl annotate pod <this pod> %s-\n", podinfo.KeyRunmode)
	} else {
		fmt.Fprintf(stdout, "next:      to debug: kubectl annotate pod <this pod> %s=debug\n", podinfo.KeyRunmode)
	}
	return 0
}

func passFail(ok bool) string {
	if ok {
		return "ok  "
	}
	return "FAIL"
}

// runDebug implements `doris-entrypoint debug run`: start the component in
// the foreground on the moved ports, only in debug mode.
func runDebug(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "run" {
		fmt.Fprintf(stderr, "Usage: doris-entrypoint debug run\n\nIn debug mode, start the component in the foreground on the moved ports.\nEnvironment: %s (default %s)\n", envDorisRoot.name, envDorisRoot.def)
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return 0
		}
		return exitUsage
	}
	st, err := modes.ReadState(stateFile(dorisRootOf(getenv)))
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint debug run: no supervisor state (%v)\n", err)
		return 1
	}
	if st.Mode != "debug" {
		fmt.Fprintf(stderr, "doris-entrypoint debug run: the pod is in %s mode; refusing (annotate it with %s=debug first)\n", st.Mode, podinfo.KeyRunmode)
		return 1
	}
	if err := os.Chdir(st.Dir); err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint debug run: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "starting %s on the moved ports: %s\n", st.Component, strings.Join(st.Command, " "))
	err = syscall.Exec(st.Command[0], st.Command, os.Environ())
	fmt.Fprintf(stderr, "doris-entrypoint debug run: exec %s: %v\n", st.Command[0], err)
	return 126
}

// runPrestop implements the operator's preStop hook (fe_prestop.sh,
// be_prestop.sh): ask PID 1 over its control socket to stop gracefully and
// wait until it has exited or its stop timeout has passed. Today's FE
// preStop is a kill -9 of the JVM.
func runPrestop(argv0 string, args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "Usage: doris-entrypoint prestop\n\nAsk the supervisor (PID 1) to stop gracefully and wait for it.\nEnvironment: %s, %s\n", envDorisRoot.name, envStopTimeout.name)
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			return 0
		}
		return exitUsage
	}
	def := components["fe"].stopTimeout
	if argv0 == "be_prestop.sh" {
		def = components["be"].stopTimeout
	}
	opts, err := resolveOptions("", "", def, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint prestop: %v\n", err)
		return exitUsage
	}
	// The supervisor SIGKILLs what is left at its stop timeout and exits:
	// wait a little longer than that.
	stopped, err := control.Stop(controlSocket(opts.dorisRoot), opts.stopTimeout+5*time.Second)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "doris-entrypoint prestop: %v\n", err)
		return 1
	case !stopped:
		fmt.Fprintf(stdout, "doris-entrypoint prestop: still stopping after %s\n", opts.stopTimeout+5*time.Second)
	default:
		fmt.Fprintln(stdout, "doris-entrypoint prestop: stopped")
	}
	return 0
}
