package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/probes/doris"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/bootstrap"
	"go.uber.org/zap"
)

var (
	envProbeAddr     = envVar{"DORIS_ENTRYPOINT_PROBE_ADDR", ":8099", "probe endpoint (/livez /readyz /startupz /status /metrics); empty disables it"}
	envProbeInterval = envVar{"DORIS_ENTRYPOINT_PROBE_INTERVAL", "5s", "how often the endpoint's background checks ask the component and the FE"}
)

const defaultProbeAddr = ":8099"

// probeAddrFile is where the supervisor records the address its endpoint
// listens on, so that `status` finds it whatever the configuration.
func probeAddrFile(dorisRoot string) string {
	return filepath.Join(dorisRoot, ".doris-entrypoint", "probe.addr")
}

// probeAddr returns the configured listen address; "" when disabled.
func probeAddr(getenv lookupEnv) string {
	if v, ok := getenv(envProbeAddr.name); ok {
		return v
	}
	return defaultProbeAddr
}

// componentChecks builds the probe checks of c. The conf is read at every
// round: its ports are the component's, whatever a ConfigMap brought.
func componentChecks(c component, conf string, target *memberTarget, client *doris.Client) (*probes.Check, []probes.Check) {
	hc := probes.HTTPClient()
	port := func(p confpatch.Port) (int, error) {
		data, err := os.ReadFile(conf)
		if err != nil && !os.IsNotExist(err) {
			return 0, fmt.Errorf("read %s: %w", conf, err)
		}
		return confpatch.PortValue(data, p)
	}
	local := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	// Ports[0] is the liveness port, Ports[1] the HTTP port (confpatch.FEPorts, BEPorts).
	live := &probes.Check{Name: probes.CheckPort, Run: func(ctx context.Context) error {
		p, err := port(c.ports[0])
		if err != nil {
			return err
		}
		return probes.PortOpen(ctx, local(p))
	}}
	health := probes.Check{Name: probes.CheckHealth, Run: func(ctx context.Context) error {
		p, err := port(c.ports[1])
		if err != nil {
			return err
		}
		url := "http://" + local(p) + "/api/health"
		if c.name == "fe" {
			return probes.FrontendHealth(ctx, hc, url)
		}
		return probes.BackendHealth(ctx, hc, url)
	}}
	member := probes.Check{Name: probes.CheckMembership, Run: func(ctx context.Context) error {
		host, err := target.host()
		if err != nil {
			return err
		}
		if c.name == "be" {
			hb, err := port(c.ports[0])
			if err != nil {
				return err
			}
			return probes.BackendMember(ctx, client, target.feAddrs, host, hb)
		}
		qp, err := port(c.ports[0])
		if err != nil {
			return err
		}
		el, err := port(confpatch.Port{Key: "edit_log_port", Default: 9010})
		if err != nil {
			return err
		}
		return probes.FrontendMember(ctx, client, local(qp), host, el)
	}}
	return live, []probes.Check{health, member}
}

// memberTarget is how the cluster knows this node.
type memberTarget struct {
	feAddrs []string               // BE: the FEs to ask
	host    func() (string, error) // the host name in SHOW FRONTENDS/BACKENDS
}

// startProbes starts the endpoint; it returns nil when it is disabled. A
// port that cannot be bound is logged and the supervisor goes on without it.
func startProbes(ctx context.Context, c component, opts options, getenv lookupEnv, sup *supervisor.Supervisor,
	target *memberTarget, log *zap.Logger) (*probes.Server, error) {
	addr := probeAddr(getenv)
	interval, err := durationEnv(getenv, envProbeInterval, probes.DefaultInterval)
	if err != nil {
		return nil, err
	}
	client, err := newClient(getenv)
	if err != nil {
		return nil, err
	}
	// A round of checks fits in one interval.
	client.ConnectTimeout = min(client.ConnectTimeout, interval/2)
	client.QueryTimeout = min(client.QueryTimeout, interval)
	live, ready := componentChecks(c, filepath.Join(opts.dorisRoot, c.conf), target, client)
	srv := probes.New(probes.Config{
		Component: c.name, Version: version, Interval: interval, Live: live, Ready: ready,
		Stopping: sup.StopRequested(), Logger: log,
		Counters: func() probes.Counters {
			st := sup.Stats()
			return probes.Counters{SignalsForwarded: st.SignalsForwarded, OrphansReaped: st.OrphansReaped}
		},
	})
	go srv.Run(ctx)
	if addr == "" {
		log.Info("probe endpoint disabled", zap.String("env", envProbeAddr.name))
		os.Remove(probeAddrFile(opts.dorisRoot))
		return srv, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("probe endpoint not started: the Doris ports still serve the operator's probes", zap.String("addr", addr), zap.Error(err))
		os.Remove(probeAddrFile(opts.dorisRoot))
		return srv, nil
	}
	bound := ln.Addr().String()
	if err := writeFileAtomic(probeAddrFile(opts.dorisRoot), []byte(bound+"\n")); err != nil {
		log.Warn("cannot record the probe address for status", zap.Error(err))
	}
	log.Info("probe endpoint listening", zap.String("addr", bound), zap.Duration("interval", interval))
	go func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("probe endpoint stopped", zap.Error(err))
		}
	}()
	return srv, nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// probeTimeout bounds an exec probe: kubelet's default timeoutSeconds is 1.
const probeTimeout = 900 * time.Millisecond

// runProbe implements `doris-entrypoint probe live|ready|startup [--addr]`
// for exec probes: exit 0 when the probe passes, 1 otherwise, the reason on
// stdout.
func runProbe(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	addr := fs.String("addr", "", "endpoint address (default from "+envProbeAddr.name+", "+defaultProbeAddr+"; unspecified host = loopback)")
	wait := fs.Duration("wait", 0, "ready only: long poll (/readyz?wait=): hold until the verdict flips, at most this long; keep it 0.5 s below the probe's timeoutSeconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: doris-entrypoint probe live|ready|startup [--addr HOST:PORT] [--wait DURATION]\n\n"+
			"Ask the supervisor's probe endpoint, for exec probes: exit 0 if the probe passes, 1 if not, the reason on stdout.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEnvironment:\n  %s (default %s)\n    \t%s\n", envProbeAddr.name, envProbeAddr.def, envProbeAddr.meaning)
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
		listen = probeAddr(getenv)
	}
	if listen == "" {
		fmt.Fprintf(stdout, "probe endpoint disabled (%s is empty)\n", envProbeAddr.name)
		return 1
	}
	target, err := probes.LoopbackAddr(listen)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	if *wait > 0 {
		path += "?wait=" + wait.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait+probeTimeout)
	defer cancel()
	code, body, err := probes.Get(ctx, target, path)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	fmt.Fprint(stdout, body)
	if code != http.StatusOK {
		return 1
	}
	return 0
}

// statusFromEndpoint reads /status from the running supervisor, at the
// address it recorded (none: the endpoint is disabled or failed to start,
// and whatever listens on the configured port is not ours).
func statusFromEndpoint(dorisRoot string) (probes.Status, error) {
	b, err := os.ReadFile(probeAddrFile(dorisRoot))
	if err != nil {
		return probes.Status{}, errors.New("no probe endpoint recorded: disabled, or not started (see the log)")
	}
	target, err := probes.LoopbackAddr(strings.TrimSpace(string(b)))
	if err != nil {
		return probes.Status{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return probes.FetchStatus(ctx, target)
}

// backendTarget is how a BE/CN is found in SHOW BACKENDS.
func backendTarget(feAddrs string, getenv lookupEnv) (*memberTarget, error) {
	queryPort, err := intEnv(getenv, envFEQueryPort, 9030, 1, 65535)
	if err != nil {
		return nil, err
	}
	addrs, err := bootstrap.FEAddrs(feAddrs, queryPort)
	if err != nil {
		return nil, err
	}
	env := func(k string) string { v, _ := getenv(k); return v }
	hostType, _ := getenv(envHostType.name)
	host, err := bootstrap.Identity(strings.EqualFold(hostType, "IP"), env, "/etc/hosts")
	if err != nil {
		return nil, err
	}
	return &memberTarget{feAddrs: addrs, host: func() (string, error) { return host, nil }}, nil
}

// frontendHost is how an FE is known in SHOW FRONTENDS: its FQDN, or its IP
// when the conf sets enable_fqdn_mode = false.
func frontendHost(conf []byte, getenv lookupEnv) (string, error) {
	env := func(k string) string { v, _ := getenv(k); return v }
	if v, _ := confpatch.Value(conf, "enable_fqdn_mode"); strings.EqualFold(v, "false") {
		return bootstrap.Identity(true, env, "/etc/hosts")
	}
	return bootstrap.Identity(false, env, "/etc/hosts")
}

// frontendTarget reads the conf when asked: the FE's identity follows it.
func frontendTarget(conf string, getenv lookupEnv) *memberTarget {
	return &memberTarget{host: func() (string, error) {
		data, _ := os.ReadFile(conf) // a missing conf means Doris's defaults
		return frontendHost(data, getenv)
	}}
}
