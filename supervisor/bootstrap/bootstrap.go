// Package bootstrap is what a node does before its start script runs: for a
// BE or CN, make sure the cluster knows it (SHOW BACKENDS lists
// host:heartbeat_service_port, else ALTER SYSTEM ADD BACKEND), trying every
// FE address, with bounded waits and backoff, a periodic log line while no FE
// master is visible, and a context so that the debug annotation and SIGTERM
// end any wait at once (be_entrypoint.sh waits forever on the first address
// and cannot be debugged meanwhile).
//
// The FE side (master discovery, join as follower or observer, the
// new-cluster rule) comes with the rest of the bootstrap issue.
package bootstrap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/probes/doris"
	"go.uber.org/zap"
)

// Backoff bounds between rounds over the FE addresses.
const (
	DefaultInterval    = 2 * time.Second
	DefaultMaxInterval = 10 * time.Second
	waitLogEvery       = 10 * time.Second
)

// Backend registers a BE or CN.
type Backend struct {
	Client        *doris.Client
	FEAddrs       []string // host:query_port of each FE address
	Host          string   // this node as the FE must know it
	HeartbeatPort int
	Logger        *zap.Logger
	Interval      time.Duration // first wait between rounds; 0: DefaultInterval
	MaxInterval   time.Duration // 0: DefaultMaxInterval
}

// Register returns once the cluster lists this backend (re-enabling query
// and load on it), or with ctx's error.
func (b Backend) Register(ctx context.Context) error {
	log := b.Logger
	if log == nil {
		log = zap.NewNop()
	}
	self, err := doris.HostPort(b.Host, b.HeartbeatPort)
	if err != nil {
		return fmt.Errorf("backend identity: %w", err)
	}
	if len(b.FEAddrs) == 0 {
		return errors.New("no FE address to register with")
	}
	wait, maxWait := b.Interval, b.MaxInterval
	if wait <= 0 {
		wait = DefaultInterval
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxInterval
	}
	start, lastLog := time.Now(), time.Time{}
	for attempt := 1; ; attempt++ {
		var why []string
		for _, fe := range b.FEAddrs {
			ok, reason := b.try(ctx, fe, self, log)
			if ok {
				log.Info("backend registered", zap.String("backend", self), zap.String("fe", fe), zap.Int("attempt", attempt))
				return nil
			}
			why = append(why, fe+": "+reason)
		}
		if time.Since(lastLog) >= waitLogEvery || attempt == 1 {
			log.Info("waiting for an FE master to register the backend", zap.String("backend", self),
				zap.Int("attempt", attempt), zap.Duration("waited", time.Since(start).Round(time.Second)),
				zap.Duration("wait", wait), zap.String("why", strings.Join(why, "; ")))
			lastLog = time.Now()
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, maxWait)
	}
}

// sleep waits d or until ctx ends, whose error it returns then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// try asks one FE; ok means the backend is listed now.
func (b Backend) try(ctx context.Context, fe, self string, log *zap.Logger) (ok bool, reason string) {
	bes, err := b.Client.ShowBackends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	for _, be := range bes {
		if hp, _ := doris.HostPort(be.Host, be.HeartbeatPort); hp == self {
			if err := b.Client.EnableBackend(ctx, fe, b.Host, b.HeartbeatPort); err != nil {
				log.Warn("cannot re-enable query and load on the backend", zap.String("fe", fe), zap.Error(err))
			}
			return true, ""
		}
	}
	fes, err := b.Client.ShowFrontends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	if _, ok := doris.Master(fes); !ok {
		return false, "no master elected"
	}
	ensureAdmin(ctx, b.Client, fe, log)
	if err := b.Client.AddBackend(ctx, fe, b.Host, b.HeartbeatPort); err != nil && !strings.Contains(err.Error(), "already exists") {
		return false, "add backend: " + err.Error()
	}
	log.Info("backend added", zap.String("backend", self), zap.String("fe", fe))
	// Confirmed by the next SHOW BACKENDS, as the script does.
	bes, err = b.Client.ShowBackends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	for _, be := range bes {
		if hp, _ := doris.HostPort(be.Host, be.HeartbeatPort); hp == self {
			return true, ""
		}
	}
	return false, "added but not listed yet"
}

// FEAddrs turns the operator's FE_ADDRS argument ("a,b,c", each optionally
// host:port) into host:port addresses, queryPort being the default port.
func FEAddrs(arg string, queryPort int) ([]string, error) {
	var out []string
	for _, a := range strings.Split(arg, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port := a, queryPort
		if h, p, err := net.SplitHostPort(a); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("FE address %q: bad port", a)
			}
			host, port = h, n
		}
		hp, err := doris.HostPort(host, port)
		if err != nil {
			return nil, fmt.Errorf("FE address %q: %w", a, err)
		}
		out = append(out, hp)
	}
	if len(out) == 0 {
		return nil, errors.New("no FE address given (FE_ADDRS is empty)")
	}
	return out, nil
}

// Identity returns how the FE should know this node: POD_FQDN (else the
// host's FQDN from /etc/hosts, as hostname -f) in FQDN mode, POD_IP (else the
// host's address) in IP mode.
func Identity(ipMode bool, getenv func(string) string, hostsFile string) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	if ipMode {
		if ip := getenv("POD_IP"); ip != "" {
			return ip, nil
		}
		for _, f := range hostsLines(hostsFile, host) {
			if ip := net.ParseIP(f[0]); ip != nil && !ip.IsLoopback() {
				return f[0], nil
			}
		}
		return "", fmt.Errorf("no POD_IP and no address for %s in %s", host, hostsFile)
	}
	if fqdn := getenv("POD_FQDN"); fqdn != "" {
		return fqdn, nil
	}
	for _, f := range hostsLines(hostsFile, host) {
		for _, name := range f[1:] {
			if strings.HasPrefix(name, host+".") {
				return name, nil
			}
		}
	}
	return host, nil
}

// hostsLines returns the fields of the /etc/hosts lines that name host.
func hostsLines(path, host string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			if name == host || strings.HasPrefix(name, host+".") {
				out = append(out, fields)
				break
			}
		}
	}
	return out
}
