package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/apache/doris-entrypoint/probes"
)

// runProbe implements `doris-entrypoint probe live|ready|startup [--addr]`
// for exec probes: exit 0 when the probe passes, 1 otherwise, the reason on
// stdout.
func runProbe(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	addr := fs.String("addr", "", "endpoint address (default from DORIS_ENTRYPOINT_PROBE_ADDR; unspecified host = loopback)")
	wait := durationVar(fs, "wait", 0, true, "ready only (a `duration`: seconds or a Go duration): long poll (/readyz?wait=): hold until the verdict flips, at most this long; keep it 0.5 s below the probe's timeoutSeconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: doris-entrypoint probe live|ready|startup [--addr HOST:PORT] [--wait DURATION]\n\n"+
			"Ask the supervisor's probe endpoint, for exec probes: exit 0 if the probe passes, 1 if not, the reason on stdout.\n\nFlags:\n")
		fs.PrintDefaults()
		printEnv(fs.Output(), inProbe, 0)
	}
	// The kind may come before or after the flags.
	var kind string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if kind == "" && fs.NArg() > 0 {
		kind = fs.Arg(0)
	} else if fs.NArg() > 0 {
		kind = "" // extra arguments
	}
	paths := map[string]string{"live": probes.PathLive, "ready": probes.PathReady, "startup": probes.PathStartup}
	path, ok := paths[kind]
	if *wait < 0 || *wait > 0 && kind != "ready" {
		ok = false
	}
	if !ok || fs.NArg() > 1 {
		fs.SetOutput(stderr)
		fs.Usage()
		return exitUsage
	}
	listen := *addr
	if listen == "" {
		s, ok := settingsFor("probe", inProbe, 0, getenv, stderr)
		if !ok {
			return exitUsage
		}
		listen = s.ProbeAddr
	}
	if listen == "" {
		fmt.Fprintln(stdout, "probe endpoint disabled (DORIS_ENTRYPOINT_PROBE_ADDR is empty)")
		return 1
	}
	passed, err := probes.Exec(listen, path, *wait, stdout)
	if err != nil {
		fmt.Fprintln(stdout, err)
	}
	if !passed {
		return 1
	}
	return 0
}
