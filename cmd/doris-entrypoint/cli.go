package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/control"
	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
	"go.uber.org/zap"
)

// exitUsage is the exit code for a bad command line.
const exitUsage = 2

// lookupEnv is os.LookupEnv, injectable for tests.
type lookupEnv func(string) (string, bool)

// runtimeFile is one of the supervisor's files in $DORIS_ROOT/.doris-entrypoint:
// control.sock (prestop), state.json (status, debug run), probe.addr (status), lock (one supervisor).
func runtimeFile(dorisRoot, name string) string {
	return filepath.Join(dorisRoot, ".doris-entrypoint", name)
}

const genericStopTimeout = 30 * time.Second

const topUsage = `doris-entrypoint: PID 1 for Apache Doris FE, BE, CN and broker containers.

Usage:
  doris-entrypoint fe [flags] [FE_ADDRS]         run the FE (also as fe_entrypoint.sh)
  doris-entrypoint be [flags] [FE_ADDRS]         run the BE / CN (also as be_entrypoint.sh)
  doris-entrypoint broker [flags] [FE_ADDRS]     run the broker (also as broker_entrypoint.sh)
  doris-entrypoint supervise [flags] [--] CMD... run any command as PID 1
  doris-entrypoint status [--json]               mode, child, ports, probes and next step (inside the pod)
  doris-entrypoint probe live|ready|startup      exec probe: ask the probe endpoint, exit 0 or 1
  doris-entrypoint is-alive PORT                 exec probe: exit 0 if PORT listens (also as broker_is_alive.sh)
  doris-entrypoint prestop                       preStop hook: stop PID 1 gracefully, wait (also as fe_prestop.sh)
  doris-entrypoint debug run                     in debug mode: start the component on the moved ports
  doris-entrypoint scale-in be|cn|fe --to N      empty the nodes that go before shrinking (decommission, drop)
  doris-entrypoint doris-debug [--component fe|be]  old scripts' hook (also as doris-debug): block in debug mode
  doris-entrypoint upgrade check|begin|status|end  the seed's upgrade: checks, balance off, order, balance on
  doris-entrypoint version                       print version, commit and Go version

Run "doris-entrypoint <command> --help" for a command's flags and environment.
`

// command is the subcommand args ask for and its arguments: from argv[0]
// when the binary runs through one of the operator's links (the
// component table's names), else from the first argument.
func command(args []string) (cmd string, rest []string) {
	argv0 := filepath.Base(args[0])
	for _, c := range cluster.Components {
		switch argv0 {
		case c.Entrypoint:
			return c.Name, args[1:]
		case c.Prestop:
			return "prestop", args[1:]
		case c.IsAlive:
			return "is-alive", args[1:]
		}
	}
	switch {
	case argv0 == "doris-debug":
		return argv0, args[1:]
	case len(args) > 1:
		return args[1], args[2:]
	}
	return "", nil
}

// run is main without the process-global parts, returning the exit code.
func run(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	cmd, rest := command(args)
	switch cmd {
	case cluster.FE.Name, cluster.BE.Name, cluster.Broker.Name:
		return runComponent(cluster.Components[cmd], rest, getenv, stdout, stderr)
	case "supervise":
		return runSupervise(rest, getenv, stdout, stderr)
	case "status":
		return runStatus(rest, getenv, stdout, stderr)
	case "probe":
		return runProbe(rest, getenv, stdout, stderr)
	case "is-alive":
		return runIsAlive(rest, stdout, stderr)
	case "upgrade":
		return runUpgrade(rest, getenv, stdout, stderr)
	case "prestop":
		return runPrestop(filepath.Base(args[0]), rest, getenv, stdout, stderr)
	case "debug":
		return runDebug(rest, getenv, stdout, stderr)
	case "scale-in":
		return runScaleIn(rest, getenv, stdout, stderr)
	case "doris-debug":
		return runDorisDebug(rest, getenv, stdout, stderr)
	case "version":
		if len(rest) > 0 {
			return usage(stderr, "Usage: doris-entrypoint version\n\nPrint the version, the commit and the Go version.\n", 0, rest[0])
		}
		fmt.Fprintf(stdout, "doris-entrypoint %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return 0
	case "":
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "doris-entrypoint: unknown command %q\n\n%s", cmd, topUsage)
		return exitUsage
	}
}

// newFlagSet builds the flag set of a supervising command: the flags of
// sc's variables; its usage text lists them and the variables.
func newFlagSet(name, synopsis string, sc scope, stopTimeout time.Duration, stderr io.Writer) (*flag.FlagSet, flagValues) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fv := flagValues{}
	for _, v := range varsOf(sc) {
		if v.flag != "" {
			fv[v.name] = fs.String(v.flag, "", v.doc+" (overrides "+v.name+")")
		}
	}
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: doris-entrypoint %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		printEnv(out, sc, stopTimeout)
	}
	return fs, fv
}

// printEnv lists the variables of sc, for --help; stopTimeout, when set,
// is the command's own default stop budget.
func printEnv(w io.Writer, sc scope, stopTimeout time.Duration) {
	fmt.Fprintf(w, "\nEnvironment:\n")
	for _, v := range varsOf(sc) {
		def := cmp.Or(v.defDoc, v.def)
		if v.name == envStopTimeout && stopTimeout > 0 {
			def = fmt.Sprintf("%gs", stopTimeout.Seconds())
		}
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  %s (default %s)\n    \t%s\n", v.name, def, v.doc)
	}
}

// parseFlags parses args; help goes to stdout with code 0, errors and usage
// to stderr with exitUsage. ok is false when the caller must return code.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var msg strings.Builder
	fs.SetOutput(&msg)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0, false
	case err != nil:
		io.WriteString(stderr, msg.String())
		return exitUsage, false
	}
	fs.SetOutput(stderr)
	return 0, true
}

// startSupervisor is the common start of the supervising commands: catch
// signals first (a SIGTERM from then on is kept), then the logger, then the
// supervisor. Errors are reported on stderr or in the log.
func startSupervisor(s Settings, component string, prestarted int, notify func(string, string), stderr io.Writer) (*supervisor.Supervisor, *zap.Logger, error) {
	sigs, err := supervisor.NotifySignals()
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint: %v\n", err)
		return nil, nil, err
	}
	log, err := supervisor.NewLogger(stderr, s.LogFormat)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint: %v\n", err)
		return nil, nil, err
	}
	if component != "" {
		log = log.With(zap.String("component", component))
	}
	sup, err := supervisor.New(supervisor.Config{Signals: sigs, Logger: log, StopTimeout: s.StopTimeout, Prestarted: prestarted, Notify: notify})
	if err != nil {
		log.Error("cannot start the supervisor", zap.Error(err))
		return nil, nil, err
	}
	return sup, log, nil
}

// componentScopes are the scopes of the components' variables.
var componentScopes = map[string]scope{cluster.FE.Name: inFE, cluster.BE.Name: inBE, cluster.Broker.Name: inBroker}

func runComponent(c cluster.Component, args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	sc := componentScopes[c.Name]
	fs, flags := newFlagSet(c.Name, c.Name+" [flags] [FE_ADDRS]\n\n"+c.Summary+": $DORIS_ROOT/"+c.CommandLine()+".", sc, c.StopTimeout(), stderr)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "doris-entrypoint %s: want at most one argument (FE_ADDRS), got %q\n", c.Name, fs.Args())
		fs.Usage()
		return exitUsage
	}
	s, err := loadSettings(sc, 0, getenv, flags)
	if err == nil {
		err = s.checkAdmin(cluster.BasicAuthDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint %s: %v\n", c.Name, err)
		return exitUsage
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = c.StopTimeoutIn(s.DorisRoot, s.ConfigMapPath)
	}
	feAddrs, err := c.ParseFEAddrs(fs.Arg(0), s.FEQueryPort)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint %s: FE_ADDRS: %v\n", c.Name, err)
		return exitUsage
	}
	unlock, lockErr := control.Lock(runtimeFile(s.DorisRoot, "lock"))
	if errors.Is(lockErr, control.ErrLocked) {
		fmt.Fprintf(stderr, "doris-entrypoint %s: %v\n", c.Name, lockErr)
		return 1
	}
	defer unlock()
	// The API client comes after the logger; the supervisor's stop-timeout
	// Event finds it here.
	var kube atomic.Pointer[kubeapi.Client]
	sup, log, err := startSupervisor(s, c.Name, 0, func(reason, msg string) { kube.Load().Event(kubeapi.Warning, reason, msg) }, stderr)
	if err != nil {
		return 1
	}
	defer log.Sync()
	defer sup.Close()
	if lockErr != nil {
		log.Warn("no supervisor lock: a second supervisor in this DORIS_ROOT would not be refused", zap.Error(lockErr))
	}
	log.Info("starting", zap.String("fe_addrs", fs.Arg(0)), zap.String("doris_root", s.DorisRoot),
		zap.Duration("stop_timeout", s.StopTimeout), zap.String("version", version))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := newNode(c, s, feAddrs, log)
	node.Leave = &cluster.Leave{Placement: func(ctx context.Context) (cluster.Placement, error) { return kube.Load().Placement(ctx) },
		Event: func(typ, reason, msg string) { kube.Load().Event(typ, reason, msg) }, Records: kubeRecords{&kube}}
	order := &cluster.UpgradeOrder{Node: node, Version: s.DorisVersion, Wait: s.UpgradeWait, Poll: s.ProbeInterval}
	live, ready := probes.NodeChecks(node, s.ProbeInterval)
	srv := probes.New(probes.Config{Component: c.Name, Version: version, DorisVersion: order.VersionText(), Interval: s.ProbeInterval, Live: live, Ready: ready,
		Stopping: sup.StopRequested(), Counters: probes.CountersOf(sup), Logger: log})
	go srv.Run(ctx)
	srv.ListenAndServe(ctx, s.ProbeAddr, runtimeFile(s.DorisRoot, "probe.addr"))
	ctl := control.NewServer(runtimeFile(s.DorisRoot, "control.sock"), sup.RequestStop, sup.Spare)
	go func() {
		if err := ctl.Serve(ctx); err != nil {
			log.Warn("no control socket: prestop will not reach this supervisor", zap.Error(err))
		}
	}()
	watcher := podinfo.Watch(ctx, podinfo.WatchConfig{Dir: s.PodinfoDir, Logger: log})
	if kc := kubeapi.Start(ctx, kubeapi.Config{Mode: s.Kube, Namespace: s.PodNamespace, Name: s.PodName, Logger: log}, watcher); kc != nil {
		kube.Store(kc)
		defer kc.Flush(2 * time.Second)
	}
	startUpgradeGuard(ctx, node, kube.Load(), s.ProbeInterval)
	code := modes.Run(ctx, modes.Config{
		Supervisor: sup,
		Podinfo:    watcher,
		Component:  withUpgradeOrder(modes.ForNode(node, prepareOf(s, node, log)), order, &kube),
		Offset:     s.DebugOffset,
		ProbeAddr:  s.ProbeAddr,
		StateFile:  runtimeFile(s.DorisRoot, "state.json"),
		OnState:    srv.SetState,
		Event:      func(typ, reason, msg string) { kube.Load().Event(typ, reason, msg) },
		Logger:     log,
	})
	// The stop is complete: tell a waiting preStop hook, and let it exit
	// before this process's exit kills it (control.go, steps 3 and 5).
	ctl.Done(code)
	if n := ctl.WaitHooks(time.Second); n > 0 {
		log.Warn("exiting with a preStop hook still connected: it will be killed", zap.Int("count", n))
	}
	log.Info("exiting", zap.Int("code", code))
	return code
}

func runSupervise(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs, flags := newFlagSet("supervise", "supervise [flags] [--] CMD [ARGS...]\n\nRun CMD as the main child of PID 1, in the current directory.",
		inSupervise, genericStopTimeout, stderr)
	// The child may already run: started at the entry point (earlystart),
	// for a command line that is valid by construction.
	early, execErr := earlystart.Child()
	if early == 0 {
		if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "doris-entrypoint supervise: missing command")
			fs.Usage()
			return exitUsage
		}
		args = fs.Args()
	} else {
		args = args[1:] // "--"
	}
	s, err := loadSettings(inSupervise, genericStopTimeout, getenv, flags)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint supervise: %v\n", err)
		if early > 0 {
			earlystart.Kill(early)
		}
		return exitUsage
	}
	sup, log, err := startSupervisor(s, "", early, nil, stderr)
	if err != nil {
		if early > 0 {
			earlystart.Kill(early)
		}
		return 1
	}
	defer log.Sync()
	defer sup.Close()
	cmd := supervisor.Command{Path: args[0], Args: args[1:]}
	var code int
	if early > 0 {
		code = sup.RunPrestarted(context.Background(), cmd, execErr)
	} else {
		code = sup.Run(context.Background(), cmd)
	}
	log.Info("exiting", zap.Int("code", code))
	return code
}
