package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// runDorisDebug is `doris-debug --component fe|be`, the hook the images'
// older entrypoint scripts call before they start Doris (modes.HoldWhileDebug).
func runDorisDebug(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doris-debug", flag.ContinueOnError)
	comp := fs.String("component", "fe", "fe or be (ms is not supported: returns at once)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: doris-debug [--component fe|be]\n\n"+
			"In debug mode (annotation %s=debug in $%s/annotations), hold the component's liveness port\n"+
			"and block until the annotation is removed; otherwise return at once.\n\nFlags:\n", podinfo.KeyRunmode, "DORIS_ENTRYPOINT_PODINFO_DIR")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	c, ok := cluster.Components[*comp]
	if !ok {
		fmt.Fprintf(stdout, "doris-debug: component %q has no debug mode here; returning\n", *comp)
		return 0
	}
	s, ok := settingsFor("doris-debug", inDorisDebug, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	mc := modes.ForNode(&cluster.Node{Component: c, Root: s.DorisRoot}, confpatch.Prepare{})
	if err := modes.HoldWhileDebug(ctx, s.PodinfoDir, mc, stdout); err != nil {
		fmt.Fprintf(stderr, "doris-debug: %v\n", err)
		return 1
	}
	return 0
}
