package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
)

// runScaleIn is `doris-entrypoint scale-in be|cn|fe --to N [--dry-run]`,
// the safe two-step scale-in by hand (cluster/scalein.go).
func runScaleIn(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scale-in", flag.ContinueOnError)
	to := fs.Int("to", -1, "the replicas to keep: nodes with this ordinal and above leave")
	dry := fs.Bool("dry-run", false, "print the plan only")
	fe := fs.String("fe", "", "the FE to ask, host[:port] (default: ENV_FE_ADDR)")
	timeout := durationVar(fs, "timeout", cluster.DefaultScaleInTimeout, false, "be: how long (a `duration`: seconds or a Go duration) to wait for the FE to empty the backends; "+
		"the decommission goes on after it")
	cancel := fs.Bool("cancel", false, "be: undo a scale-in: CANCEL DECOMMISSION of the backends with ordinal N and above, the record removed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: doris-entrypoint scale-in be|cn|fe --to N [--dry-run] [--timeout D] [--cancel] [--fe HOST:PORT]\n\n"+
			"Empty the nodes with ordinal N and above before the StatefulSet is shrunk: decommission BEs (the FE moves their\n"+
			"tablets, then drops them), drop CNs and observers; then print the kubectl patch line to run.\n\nFlags:\n")
		fs.PrintDefaults()
		printEnv(fs.Output(), inScaleIn, 0)
	}
	var kind string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	// One rule for every usage error: exit 2, nothing asked. A kind is be,
	// cn or fe as the commands name them, lowercase.
	var bad string
	switch {
	case kind != "" && !slices.Contains([]string{"be", "cn", "fe"}, kind):
		bad = fmt.Sprintf("kind %q: want be, cn or fe (lowercase)", kind)
	case *cancel && kind != "" && kind != "be":
		bad = fmt.Sprintf("--cancel: only a BE scale-in can be undone (%ss are dropped at once)", strings.ToUpper(kind))
	}
	if bad != "" || kind == "" || *to < 0 || fs.NArg() > 0 {
		if bad != "" {
			fmt.Fprintf(stderr, "doris-entrypoint scale-in: %s\n\n", bad)
		}
		fs.SetOutput(stderr)
		fs.Usage()
		return exitUsage
	}
	s, ok := settingsFor("scale-in", inScaleIn, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if err := s.checkAdmin(cluster.BasicAuthDir); err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint scale-in: %v\n", err)
		return exitUsage
	}
	addrs, ok := s.feAddrs("scale-in", *fe, stderr)
	if !ok {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client := s.client()
	plan, err := cluster.PlanScaleIn(ctx, client, addrs[0], kind, *to)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint scale-in: %v\n", err)
		if errors.Is(err, cluster.ErrHostIsIP) {
			return exitUsage // nodes listed by IP: no ordinal to scale in by, nothing changed
		}
		return 1
	}
	plan.Print(stdout)
	kc, err := kubeapi.New(kubeapi.Config{Mode: s.Kube, Namespace: s.PodNamespace, Name: s.PodName})
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint scale-in: no API access: %v\n", err)
	}
	o := cluster.ExecOptions{FEAddrs: addrs, Poll: time.Second, Timeout: *timeout, By: s.PodName}
	if kc != nil {
		o.Records = kc
	}
	if *cancel {
		if *dry {
			return 0
		}
		if err := plan.Cancel(ctx, client, stdout, o); err != nil {
			fmt.Fprintf(stderr, "doris-entrypoint scale-in: %v\n", err)
			return 1
		}
		return 0
	}
	if *dry || !plan.Safe {
		if !plan.Safe {
			return 1
		}
		return 0
	}
	if err := plan.Execute(ctx, client, stdout, o); err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint scale-in: %v\n", err)
		return 1
	}
	return 0
}
