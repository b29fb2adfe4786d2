package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/probes/holder"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/control"
	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// exitUsage is the exit code for a bad command line.
const exitUsage = 2

// lookupEnv is os.LookupEnv, injectable for tests.
type lookupEnv func(string) (string, bool)

// envVar documents one environment variable for --help.
type envVar struct {
	name, def, meaning string
}

var (
	envDorisRoot   = envVar{"DORIS_ROOT", "/opt/apache-doris", "Doris install root (fe/, be/ below it); the child's working directory"}
	envStopTimeout = envVar{"DORIS_ENTRYPOINT_STOP_TIMEOUT", "fe 300s, be 180s, supervise 30s", "graceful stop budget from SIGTERM to SIGKILL: seconds (300) or a Go duration (5m)"}
	envLogFormat   = envVar{"DORIS_ENTRYPOINT_LOG_FORMAT", "json", "log format on stderr: json or console"}
	envPodinfoDir  = envVar{"DORIS_ENTRYPOINT_PODINFO_DIR", "/etc/podinfo", "downward-API volume whose annotations file sets the run mode"}
	envDebugOffset = envVar{"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", "10000", "how far debug mode moves the FE query/http and BE heartbeat/webserver ports"}
)

// component is what differs between the FE and BE supervisors.
type component struct {
	name        string
	script      string // relative to DORIS_ROOT
	conf        string // relative to DORIS_ROOT
	pidFile     string // relative to DORIS_ROOT
	ports       []confpatch.Port
	hold        holder.Kind
	stopTimeout time.Duration
	summary     string
}

var components = map[string]component{
	"fe": {"fe", "fe/bin/start_fe.sh", "fe/conf/fe.conf", "fe/bin/fe.pid", confpatch.FEPorts, holder.MySQL,
		300 * time.Second, "run the Doris FE under the supervisor"},
	"be": {"be", "be/bin/start_be.sh", "be/conf/be.conf", "be/bin/be.pid", confpatch.BEPorts, holder.AcceptClose,
		180 * time.Second, "run the Doris BE or CN under the supervisor"},
}

// controlSocket is where the supervisor listens for prestop.
func controlSocket(dorisRoot string) string {
	return filepath.Join(dorisRoot, ".doris-entrypoint", "control.sock")
}

// stateFile is where the supervisor leaves its state for `status`.
func stateFile(dorisRoot string) string {
	return filepath.Join(dorisRoot, ".doris-entrypoint", "state.json")
}

const genericStopTimeout = 30 * time.Second

// argv0Commands maps the operator's container commands to subcommands.
var argv0Commands = map[string]string{
	"fe_entrypoint.sh": "fe",
	"be_entrypoint.sh": "be",
	"fe_prestop.sh":    "prestop",
	"be_prestop.sh":    "prestop",
	"doris-debug":      "doris-debug",
}

const topUsage = `doris-entrypoint: PID 1 for Apache Doris FE, BE and CN containers.

Usage:
  doris-entrypoint fe [flags] [FE_ADDRS]         run the FE (also as fe_entrypoint.sh)
  doris-entrypoint be [flags] [FE_ADDRS]         run the BE / CN (also as be_entrypoint.sh)
  doris-entrypoint supervise [flags] [--] CMD... run any command as PID 1
  doris-entrypoint status [--json]               mode, child, ports, probes and next step (inside the pod)
  doris-entrypoint probe live|ready|startup      exec probe: ask the probe endpoint, exit 0 or 1
  doris-entrypoint prestop                       preStop hook: stop PID 1 gracefully, wait (also as fe_prestop.sh)
  doris-entrypoint debug run                     in debug mode: start the component on the moved ports
  doris-entrypoint doris-debug [--component fe|be]  old scripts' hook (also as doris-debug): block in debug mode
  doris-entrypoint version                       print version, commit and Go version

Run "doris-entrypoint <command> --help" for a command's flags and environment.
`

// run is main without the process-global parts, returning the exit code.
func run(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	cmd, rest := "", args[1:]
	if c, ok := argv0Commands[filepath.Base(args[0])]; ok {
		cmd = c
	} else if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "fe", "be":
		return runComponent(components[cmd], rest, getenv, stdout, stderr)
	case "supervise":
		return runSupervise(rest, getenv, stdout, stderr)
	case "status":
		return runStatus(rest, getenv, stdout, stderr)
	case "probe":
		return runProbe(rest, getenv, stdout, stderr)
	case "prestop":
		return runPrestop(filepath.Base(args[0]), rest, getenv, stdout, stderr)
	case "debug":
		return runDebug(rest, getenv, stdout, stderr)
	case "doris-debug":
		return runDorisDebug(rest, getenv, stdout, stderr)
	case "version":
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

// options are the settings shared by the supervising commands.
type options struct {
	stopTimeout time.Duration
	logFormat   string
	dorisRoot   string
	podinfoDir  string
	debugOffset int
}

// newFlagSet builds the flag set of a supervising command; its usage text
// lists the flags and the environment variables.
func newFlagSet(name, synopsis string, vars []envVar, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	stop := fs.String("stop-timeout", "", "graceful stop budget (overrides "+envStopTimeout.name+")")
	logFormat := fs.String("log-format", "", "json or console (overrides "+envLogFormat.name+")")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: doris-entrypoint %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nEnvironment:\n")
		for _, v := range vars {
			fmt.Fprintf(out, "  %s (default %s)\n    \t%s\n", v.name, v.def, v.meaning)
		}
	}
	return fs, stop, logFormat
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

// resolveOptions merges flags over environment over defaults.
func resolveOptions(flagStop, flagLog string, defStop time.Duration, getenv lookupEnv) (options, error) {
	o := options{stopTimeout: defStop, logFormat: "json"}
	if v, ok := getenv(envStopTimeout.name); ok && v != "" {
		d, err := supervisor.ParseStopTimeout(v)
		if err != nil {
			return o, fmt.Errorf("%s: %w", envStopTimeout.name, err)
		}
		o.stopTimeout = d
	}
	if flagStop != "" {
		d, err := supervisor.ParseStopTimeout(flagStop)
		if err != nil {
			return o, fmt.Errorf("--stop-timeout: %w", err)
		}
		o.stopTimeout = d
	}
	if v, ok := getenv(envLogFormat.name); ok && v != "" {
		o.logFormat = v
	}
	if flagLog != "" {
		o.logFormat = flagLog
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		return o, fmt.Errorf("log format %q: want json or console", o.logFormat)
	}
	o.dorisRoot = stringEnv(getenv, envDorisRoot)
	o.podinfoDir = stringEnv(getenv, envPodinfoDir)
	o.debugOffset = 10000
	if v, ok := getenv(envDebugOffset.name); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65534 {
			return o, fmt.Errorf("%s %q: want a number of ports, 1..65534", envDebugOffset.name, v)
		}
		o.debugOffset = n
	}
	return o, nil
}

// startSupervisor is the common start of the supervising commands: catch
// signals first (a SIGTERM from then on is kept), then the logger, then the
// supervisor. Errors are reported on stderr or in the log.
func startSupervisor(opts options, component string, prestarted int, notify func(string, string), stderr io.Writer) (*supervisor.Supervisor, *zap.Logger, error) {
	sigs, err := supervisor.NotifySignals()
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint: %v\n", err)
		return nil, nil, err
	}
	log, err := newLogger(stderr, opts.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint: %v\n", err)
		return nil, nil, err
	}
	if component != "" {
		log = log.With(zap.String("component", component))
	}
	sup, err := supervisor.New(supervisor.Config{Signals: sigs, Logger: log, StopTimeout: opts.stopTimeout, Prestarted: prestarted, Notify: notify})
	if err != nil {
		log.Error("cannot start the supervisor", zap.Error(err))
		return nil, nil, err
	}
	return sup, log, nil
}

func runComponent(c component, args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	vars := []envVar{envDorisRoot, envStopTimeout, envLogFormat, envPodinfoDir, envDebugOffset, envProbeAddr, envProbeInterval,
		envKube, envPodName, envPodNamespace}
	vars = append(vars, envFEQueryPort, envUser, envPasswd, envPodFQDN, envPodIP, envConfigMap, envConnectTimeout, envQueryTimeout,
		envKrb5Mount, envKrb5Config, envKeytabMount, envKeytabFinal)
	if c.name == "be" {
		vars = append(vars, envHostType, envWorkloadGroup)
	} else {
		vars = append(vars, envElectNumber, envNewClusterWait, envMasterWait)
	}
	fs, stop, logFormat := newFlagSet(c.name, c.name+" [flags] [FE_ADDRS]\n\n"+c.summary+": $DORIS_ROOT/"+c.script+" --console.", vars, stderr)
	root := fs.String("doris-root", "", "Doris install root (overrides "+envDorisRoot.name+")")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "doris-entrypoint %s: want at most one argument (FE_ADDRS), got %q\n", c.name, fs.Args())
		fs.Usage()
		return exitUsage
	}
	opts, err := resolveOptions(*stop, *logFormat, c.stopTimeout, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint %s: %v\n", c.name, err)
		return exitUsage
	}
	if *root != "" {
		opts.dorisRoot = *root
	}
	// The API client comes after the logger; the supervisor's stop-timeout
	// Event finds it here.
	var kube atomic.Pointer[kubeapi.Client]
	sup, log, err := startSupervisor(opts, c.name, 0, func(reason, msg string) { kube.Load().Event(kubeapi.Warning, reason, msg) }, stderr)
	if err != nil {
		return 1
	}
	defer log.Sync()
	defer sup.Close()
	log.Info("starting", zap.String("fe_addrs", strings.Join(fs.Args(), "")), zap.String("doris_root", opts.dorisRoot),
		zap.Duration("stop_timeout", opts.stopTimeout), zap.String("version", version))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var target *memberTarget
	if c.name == "be" {
		target, err = backendTarget(strings.Join(fs.Args(), ""), getenv)
	} else {
		target = frontendTarget(filepath.Join(opts.dorisRoot, c.conf), getenv)
	}
	var srv *probes.Server
	if err == nil {
		srv, err = startProbes(ctx, c, opts, getenv, sup, target, log)
	}
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	var boot bootstrapFunc
	if c.name == "be" {
		boot, err = backendBootstrap(strings.Join(fs.Args(), ""), filepath.Join(opts.dorisRoot, c.conf), getenv, log)
	} else {
		boot, err = frontendBootstrap(strings.Join(fs.Args(), ""), opts.dorisRoot, filepath.Join(opts.dorisRoot, c.conf), getenv, log)
	}
	if err != nil {
		log.Error("cannot bootstrap", zap.Error(err))
		return 1
	}
	go func() {
		if err := control.Serve(ctx, controlSocket(opts.dorisRoot), sup.RequestStop); err != nil {
			log.Warn("no control socket: prestop will not reach this supervisor", zap.Error(err))
		}
	}()
	watcher := podinfo.Watch(ctx, podinfo.WatchConfig{Dir: opts.podinfoDir, Logger: log})
	if kc := startKube(ctx, getenv, watcher, log); kc != nil {
		kube.Store(kc)
		defer kc.Flush(2 * time.Second)
	}
	code := modes.Run(context.Background(), modes.Config{
		Supervisor: sup,
		Podinfo:    watcher,
		Component: modes.Component{
			Name:      c.name,
			Command:   supervisor.Command{Path: filepath.Join(opts.dorisRoot, c.script), Args: []string{"--console"}, Dir: opts.dorisRoot},
			Conf:      filepath.Join(opts.dorisRoot, c.conf),
			Ports:     c.ports,
			Hold:      c.hold,
			PIDFile:   filepath.Join(opts.dorisRoot, c.pidFile),
			Prepare:   prepareConf(c.name, filepath.Join(opts.dorisRoot, c.name, "conf"), getenv, log),
			Bootstrap: boot,
		},
		Offset:    opts.debugOffset,
		StateFile: stateFile(opts.dorisRoot),
		OnState:   srv.SetState,
		Event:     func(typ, reason, msg string) { kube.Load().Event(typ, reason, msg) },
		Logger:    log,
	})
	log.Info("exiting", zap.Int("code", code))
	return code
}

func runSupervise(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	// The child may already run: started at the entry point (earlystart).
	early, execErr := earlystart.Child()
	if early > 0 {
		code := superviseEarly(early, execErr, args, getenv, stderr)
		return code
	}
	fs, stop, logFormat := newFlagSet("supervise", "supervise [flags] [--] CMD [ARGS...]\n\nRun CMD as the main child of PID 1, in the current directory.",
		[]envVar{{envStopTimeout.name, "30s", envStopTimeout.meaning}, envLogFormat}, stderr)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "doris-entrypoint supervise: missing command")
		fs.Usage()
		return exitUsage
	}
	opts, err := resolveOptions(*stop, *logFormat, genericStopTimeout, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint supervise: %v\n", err)
		return exitUsage
	}
	sup, log, err := startSupervisor(opts, "", 0, nil, stderr)
	if err != nil {
		return 1
	}
	defer log.Sync()
	defer sup.Close()
	code := sup.Run(context.Background(), supervisor.Command{Path: fs.Arg(0), Args: fs.Args()[1:]})
	log.Info("exiting", zap.Int("code", code))
	return code
}

// superviseEarly supervises a child started at the entry point for
// "supervise -- /path args..." (package earlystart). The command line is
// valid by construction; a bad environment still fails the run with
// exitUsage, after the child has been killed.
func superviseEarly(pid int, execErr error, args []string, getenv lookupEnv, stderr io.Writer) int {
	cmd := supervisor.Command{Path: args[1], Args: args[2:]}
	opts, err := resolveOptions("", "", genericStopTimeout, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint supervise: %v\n", err)
		killEarly(pid)
		return exitUsage
	}
	sup, log, err := startSupervisor(opts, "", pid, nil, stderr)
	if err != nil {
		killEarly(pid)
		return 1
	}
	defer log.Sync()
	defer sup.Close()
	code := sup.RunPrestarted(context.Background(), cmd, execErr)
	log.Info("exiting", zap.Int("code", code))
	return code
}

// killEarly kills the early child's group and reaps it, when we cannot
// supervise it.
func killEarly(pid int) {
	unix.Kill(-pid, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
}
