package probes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultInterval is how often the background checks run.
const DefaultInterval = 5 * time.Second

// staleAfter is how many intervals a result stays valid.
const staleAfter = 3

// Check is one background health check; a nil error means healthy. The
// error text becomes the probe's reason: it must hold no secret.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Counters are the supervisor's counters exported as metrics.
type Counters struct {
	SignalsForwarded, OrphansReaped uint64
}

// Config configures a Server.
type Config struct {
	Component string // fe or be
	Version   string // reported by /status and /metrics
	// DorisVersion is the node's own Doris version (or why it is unknown),
	// for /status and `status`.
	DorisVersion string
	Interval     time.Duration // between check rounds; DefaultInterval if 0
	// Live checks the liveness port (query_port / heartbeat_service_port);
	// nil: none. It only counts once it has passed for the current child.
	Live *Check
	// Ready are the component's health checks; all must pass.
	Ready []Check
	// Stopping is closed when SIGTERM or the prestop request arrives.
	Stopping <-chan struct{}
	// Counters, when set, is read at every /metrics scrape.
	Counters func() Counters
	Logger   *zap.Logger
}

// Result is the outcome of one check.
type Result struct {
	OK     bool      `json:"ok"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// Age is how long ago the check ran, at the time of the request.
	AgeSeconds float64 `json:"age_seconds"`
	TookMillis float64 `json:"took_ms"`

	round time.Time // start of the round it belongs to (monotonic)
}

// Server is the probe endpoint. Create it with New, feed it with SetState,
// run its checks with Run and serve Handler.
type Server struct {
	cfg      Config
	interval time.Duration
	log      *zap.Logger
	kick     chan struct{}
	metrics  *metrics

	mu         sync.Mutex
	state      modes.State
	childStart time.Time // when the current child was first reported running
	portSeen   bool      // the liveness port accepted since childStart
	results    map[string]Result
	beat       time.Time // end of the check loop's last turn

	flipMu     sync.Mutex
	lastReady  bool
	flipped    chan struct{} // closed and replaced when the verdict flips
	waiters    chan struct{} // semaphore of held /readyz?wait= requests
	waitWarned atomic.Bool   // told that a prober gave up before its answer
	answered   bool          // a /readyz?wait= request has been answered
	lastAnswer bool          // and this was the verdict
}

// New returns a Server; it answers at once, with "starting" until the
// first SetState.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, interval: cfg.Interval, log: cfg.Logger, kick: make(chan struct{}, 1),
		results: map[string]Result{}, beat: time.Now(), flipped: make(chan struct{}),
		waiters: make(chan struct{}, maxWaiters)}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.metrics = newMetrics(s)
	return s
}

// Registry is the Prometheus registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// SetState records the mode machine's latest state (modes.Config.OnState).
func (s *Server) SetState(st modes.State) {
	s.mu.Lock()
	prev := s.state
	s.state = st
	started := st.Phase == modes.PhaseRunning && (prev.Phase != modes.PhaseRunning || prev.ChildPID != st.ChildPID)
	if started {
		s.childStart = time.Now()
		s.portSeen = false
	}
	s.mu.Unlock()
	if started {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.notify()
}

// notify evaluates readiness and wakes the requests waiting for a flip
// (/readyz?wait=).
func (s *Server) notify() {
	s.flipMu.Lock()
	s.flipLocked()
	s.flipMu.Unlock()
}

// flipLocked evaluates readiness, closes the flip channel when the verdict
// changed, and returns the verdict and the channel of the next flip; the
// caller holds flipMu.
func (s *Server) flipLocked() (bool, <-chan struct{}) {
	ok, _ := s.Ready()
	if ok != s.lastReady {
		s.lastReady = ok
		close(s.flipped)
		s.flipped = make(chan struct{})
	}
	return ok, s.flipped
}

func (s *Server) stopping() bool {
	select {
	case <-s.cfg.Stopping:
		return true
	default:
		return false
	}
}

// Run performs the checks until ctx ends: a round while the child runs in
// normal mode and no stop is requested, at most one round per interval. A
// child start asks for a round at once; until a round passes, the next ones
// follow after interval/16, doubling up to the interval — a child that
// needs a moment to open its ports turns ready within that moment, at the
// cost of four extra rounds per child start at most.
func (s *Server) Run(ctx context.Context) {
	var (
		last     time.Time     // start of the last round
		gap      = s.interval  // least time between two rounds
		retryFor time.Time     // the child start retry belongs to
		retry    time.Duration // its next retry gap; 0 once a round passed
	)
	first := max(s.interval/16, time.Millisecond)
	stop := s.cfg.Stopping
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			stop = nil // closed: tell it once
			s.notify()
			continue
		case <-timer.C:
		case <-s.kick:
			s.mu.Lock()
			fresh := last.Before(s.childStart) // no round for this child yet
			s.mu.Unlock()
			if fresh {
				gap = first
			}
		}
		now := time.Now()
		if !last.IsZero() && now.Sub(last) < gap {
			s.setBeat(now)
			timer.Reset(last.Add(gap).Sub(now))
			continue
		}
		s.mu.Lock()
		check := s.state.Phase == modes.PhaseRunning && !s.stopping()
		child := s.childStart
		now = time.Now() // under the lock: a round starts after the child it sees
		s.mu.Unlock()
		gap = s.interval
		if check {
			last = now
			if !retryFor.Equal(child) {
				retryFor, retry = child, first
			}
			switch {
			case s.round(ctx, now):
				retry = 0 // this child's rounds follow the interval from now on
			case retry > 0: // not ready yet since this start
				gap, retry = retry, min(2*retry, s.interval)
			}
		}
		s.setBeat(time.Now())
		s.notify()
		timer.Reset(gap)
	}
}

func (s *Server) setBeat(t time.Time) {
	s.mu.Lock()
	s.beat = t
	s.mu.Unlock()
}

// round runs every check once, within one interval in all; it reports
// whether all passed.
func (s *Server) round(ctx context.Context, start time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, s.interval)
	defer cancel()
	var checks []Check
	if s.cfg.Live != nil {
		checks = append(checks, *s.cfg.Live)
	}
	checks = append(checks, s.cfg.Ready...)
	all := true
	for _, c := range checks {
		t0 := time.Now()
		err := c.Run(ctx)
		took := time.Since(t0)
		r := Result{OK: err == nil, At: time.Now(), TookMillis: float64(took.Microseconds()) / 1000, round: start}
		if err != nil {
			r.Reason = oneLine(err.Error())
		}
		s.metrics.observe(c.Name, took, err == nil)
		all = all && err == nil
		s.mu.Lock()
		prev, had := s.results[c.Name]
		s.results[c.Name] = r
		if s.cfg.Live != nil && c.Name == s.cfg.Live.Name && r.OK && !start.Before(s.childStart) {
			s.portSeen = true
		}
		s.mu.Unlock()
		if had && prev.OK != r.OK || !had && !r.OK {
			// One line per change, not per round.
			s.log.Info("probe check changed", zap.String("check", c.Name), zap.Bool("ok", r.OK), zap.String("reason", r.Reason))
		}
	}
	return all
}

// oneLine keeps a reason to one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// snapshot is what one request evaluates, taken under the lock.
type snapshot struct {
	now        time.Time
	state      modes.State
	childStart time.Time
	portSeen   bool
	results    map[string]Result
	beat       time.Time
	stopping   bool
}

func (s *Server) snap() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := make(map[string]Result, len(s.results))
	for k, v := range s.results {
		res[k] = v
	}
	return snapshot{now: time.Now(), state: s.state, childStart: s.childStart, portSeen: s.portSeen, results: res,
		beat: s.beat, stopping: s.stopping()}
}

func (s *Server) stale(sn snapshot, t time.Time) bool {
	return sn.now.Sub(t) > staleAfter*s.interval
}

// Live evaluates the liveness probe.
func (s *Server) Live() (bool, string) { return s.live(s.snap()) }

func (s *Server) live(sn snapshot) (bool, string) {
	if s.stale(sn, sn.beat) {
		return false, fmt.Sprintf("supervisor: the check loop has not run for %s", sn.now.Sub(sn.beat).Round(time.Second))
	}
	st := sn.state
	switch st.Phase {
	case "":
		return true, "starting"
	case modes.PhaseDebug:
		return true, "debug mode: live"
	case modes.PhaseBootstrapping:
		return true, "bootstrapping"
	case modes.PhaseStopping:
		return true, "stopping"
	case modes.PhaseExited:
		return false, "the child has exited" + exitSuffix(st)
	}
	if s.cfg.Live != nil && sn.portSeen {
		r, ok := sn.results[s.cfg.Live.Name]
		switch {
		case !ok || s.stale(sn, r.At):
			return false, fmt.Sprintf("%s: no recent check", s.cfg.Live.Name)
		case !r.OK:
			return false, fmt.Sprintf("%s: %s", s.cfg.Live.Name, r.Reason)
		}
	}
	return true, fmt.Sprintf("running: pid %d", st.ChildPID)
}

func exitSuffix(st modes.State) string {
	if st.LastExit == nil {
		return ""
	}
	return fmt.Sprintf(" with code %d", *st.LastExit)
}

// Ready evaluates the readiness probe.
func (s *Server) Ready() (bool, string) { return s.ready(s.snap()) }

func (s *Server) ready(sn snapshot) (bool, string) {
	st := sn.state
	if sn.stopping {
		return false, "not ready: stopping (SIGTERM or prestop received)"
	}
	switch st.Phase {
	case "":
		return false, "not ready: starting"
	case modes.PhaseBootstrapping:
		return false, "not ready: bootstrapping, the " + strings.ToUpper(s.cfg.Component) + " has not started yet"
	case modes.PhaseDebug:
		return false, "not ready: debug mode (annotation " + cmp.Or(st.RunmodeKey, podinfoKey) + "=debug)"
	case modes.PhaseStopping:
		return false, "not ready: stopping"
	case modes.PhaseExited:
		return false, "not ready: the child has exited" + exitSuffix(st)
	}
	var names []string
	for _, c := range s.cfg.Ready {
		r, ok := sn.results[c.Name]
		switch {
		case !ok || r.round.Before(sn.childStart):
			return false, fmt.Sprintf("not ready: no %s check since the child started", c.Name)
		case s.stale(sn, r.At):
			return false, fmt.Sprintf("not ready: the %s check is stale (%s old)", c.Name, sn.now.Sub(r.At).Round(time.Second))
		case !r.OK:
			return false, fmt.Sprintf("not ready: %s: %s", c.Name, r.Reason)
		}
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return true, fmt.Sprintf("ready: pid %d", st.ChildPID)
	}
	return true, fmt.Sprintf("ready: pid %d, %s ok", st.ChildPID, strings.Join(names, ", "))
}

// podinfoKey is the annotation named in reasons when the state names none.
const podinfoKey = "selectdb.com.doris/runmode"

// Startup evaluates the startup probe.
func (s *Server) Startup() (bool, string) { return s.startup(s.snap()) }

func (s *Server) startup(sn snapshot) (bool, string) {
	switch sn.state.Phase {
	case modes.PhaseRunning, modes.PhaseStopping, modes.PhaseExited:
		return true, "started"
	case modes.PhaseDebug:
		return true, "debug mode: started"
	case modes.PhaseBootstrapping:
		return false, "bootstrapping, the " + strings.ToUpper(s.cfg.Component) + " has not started yet"
	}
	return false, "starting"
}

// Serve serves the endpoint on ln until ctx ends, with the limits a probe
// port exposed on the pod network needs: short header and idle deadlines,
// and at most maxConns connections from the network and maxLoopbackConns
// from the pod itself, of which idle and slow ones make room for a new one
// (connLimit), so that no client can delay a probe; every answer says who
// gave it (identify).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	limit := newConnLimit(maxConns, maxLoopbackConns, s.log)
	srv := &http.Server{
		Handler:           s.identify(s.Handler()),
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         limit.track,
		// Anything on the pod network can reach this port: its noise
		// (bad requests, resets) is not worth a log line each.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
