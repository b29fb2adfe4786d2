package probes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// switchable is a check whose outcome the test sets, and which the test can
// hold back (gate).
type switchable struct {
	mu   sync.Mutex
	err  error
	gate chan struct{} // non-nil: the check waits until it is closed
	runs atomic.Int64
}

func (s *switchable) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// hold makes the checks from now on wait, past their round's timeout too,
// until the returned func is called (at the latest when the test ends).
func (s *switchable) hold(t *testing.T) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release) // before the fixture's: its Run must not stay held
	return release
}

func (s *switchable) check(name string) probes.Check {
	return probes.Check{Name: name, Run: func(context.Context) error {
		s.runs.Add(1)
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	}}
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type fixture struct {
	srv         *probes.Server
	port, ready *switchable
	stop        chan struct{}
	cancel      context.CancelFunc
}

func newFixture(t *testing.T, interval time.Duration) *fixture {
	t.Helper()
	f := &fixture{port: &switchable{}, ready: &switchable{}, stop: make(chan struct{})}
	live := f.port.check(probes.CheckPort)
	f.srv = probes.New(probes.Config{Component: "fe", Version: "test", Interval: interval, Live: &live,
		Ready: []probes.Check{f.ready.check(probes.CheckHealth)}, Stopping: f.stop})
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	done := make(chan struct{})
	go func() { f.srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

type probeWant struct{ live, ready, startup bool }

func (f *fixture) assert(t *testing.T, step string, want probeWant, reason string) {
	t.Helper()
	live, lr := f.srv.Live()
	ready, rr := f.srv.Ready()
	startup, sr := f.srv.Startup()
	if live != want.live || ready != want.ready || startup != want.startup {
		t.Fatalf("%s: live %v (%s), ready %v (%s), startup %v (%s); want %+v", step, live, lr, ready, rr, startup, sr, want)
	}
	if reason != "" && !strings.Contains(lr+"|"+rr+"|"+sr, reason) {
		t.Fatalf("%s: reasons %q | %q | %q lack %q", step, lr, rr, sr, reason)
	}
}

func running(pid int) modes.State {
	return modes.State{Component: "fe", Mode: "normal", Phase: modes.PhaseRunning, ChildPID: pid}
}

// The three probes through the life of a pod: bootstrap, start, healthy,
// port lost, debug mode, back, stop requested.
func TestProbeSemantics(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	f.assert(t, "before any state", probeWant{true, false, false}, "starting")
	f.srv.SetState(modes.State{Mode: "normal", Phase: modes.PhaseBootstrapping})
	f.assert(t, "bootstrapping", probeWant{true, false, false}, "bootstrapping")

	f.port.set(errors.New("127.0.0.1:9030 not accepting: connection refused"))
	f.ready.set(errors.New("GET http://127.0.0.1:8030/api/health: connection refused"))
	f.srv.SetState(running(42))
	waitFor(t, "a failed round", func() bool { _, r := f.srv.Ready(); return strings.Contains(r, "connection refused") })
	// The JVM has not opened its port yet: live, not ready.
	f.assert(t, "starting child", probeWant{true, false, true}, "not ready: health: GET")

	f.port.set(nil)
	// A passing port check first: a round whose port check ran before the
	// set and whose health check after it is ready, but has not seen the
	// port accept, and liveness would then never fail on the port.
	n := f.port.runs.Load()
	waitFor(t, "a passing port check", func() bool { return f.port.runs.Load() > n })
	f.ready.set(nil)
	waitFor(t, "ready", func() bool { ok, _ := f.srv.Ready(); return ok })
	f.assert(t, "healthy", probeWant{true, true, true}, "ready: pid 42, health ok")

	// Once the port has accepted, losing it fails liveness.
	f.port.set(errors.New("127.0.0.1:9030 not accepting: connection refused"))
	waitFor(t, "not live", func() bool { ok, _ := f.srv.Live(); return !ok })
	f.assert(t, "port lost", probeWant{false, true, true}, "port: 127.0.0.1:9030 not accepting")
	f.port.set(nil)

	f.srv.SetState(modes.State{Mode: "debug", Phase: modes.PhaseDebug,
		Ports: []confpatch.Moved{{Key: "query_port", From: 9030, To: 19030}}})
	f.assert(t, "debug", probeWant{true, false, true}, "not ready: debug mode")

	// A new child: results of rounds before its start do not count.
	f.srv.SetState(modes.State{Mode: "normal", Phase: modes.PhaseBootstrapping})
	f.assert(t, "bootstrapping again", probeWant{true, false, false}, "bootstrapping")
	// The new child's health check is held back, so that only the passed
	// one of the child before is there to (wrongly) count.
	release := f.ready.hold(t)
	f.srv.SetState(running(43))
	ok, why := f.srv.Ready()
	if ok || !strings.Contains(why, "no health check since the child started") {
		t.Fatalf("ready right after the start: %v %s", ok, why)
	}
	release()
	waitFor(t, "ready again", func() bool { ok, _ := f.srv.Ready(); return ok })

	close(f.stop)
	f.assert(t, "stop requested", probeWant{true, false, true}, "not ready: stopping")
	code := 143
	f.srv.SetState(modes.State{Mode: "normal", Phase: modes.PhaseExited, LastExit: &code})
	f.assert(t, "exited", probeWant{false, false, true}, "exited with code 143")
}

// A result older than three intervals is a failure, and so is a check loop
// that stopped turning.
func TestStaleResults(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	f.srv.SetState(running(7))
	waitFor(t, "ready", func() bool { ok, _ := f.srv.Ready(); return ok })
	f.cancel() // the loop stops: no more rounds
	waitFor(t, "stale", func() bool { ok, why := f.srv.Ready(); return !ok && strings.Contains(why, "stale") })
	waitFor(t, "not live", func() bool { ok, why := f.srv.Live(); return !ok && strings.Contains(why, "check loop has not run") })
}

// No request ever runs a check: N concurrent requests over several intervals
// cause one round per interval at most.
func TestChecksRunOncePerInterval(t *testing.T) {
	const interval = 50 * time.Millisecond
	f := newFixture(t, interval)
	f.srv.SetState(running(1))
	h := httptest.NewServer(f.srv.Handler())
	t.Cleanup(h.Close)
	start := time.Now()
	var wg sync.WaitGroup
	var requests atomic.Int64
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.ready.runs.Load() < 6 {
				for _, p := range []string{probes.PathReady, probes.PathLive, probes.PathStatus} {
					resp, err := http.Get(h.URL + p)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					requests.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	runs := f.ready.runs.Load()
	if max := int64(el/interval) + 1; runs > max {
		t.Fatalf("%d rounds in %s with interval %s (%d requests): want at most %d", runs, el, interval, requests.Load(), max)
	}
	t.Logf("%d requests, %d rounds in %s", requests.Load(), runs, el)
}

// A slow FE never slows a probe: with every answer delayed by seconds, the
// probes answer from memory, never waiting for a round (a probe that did
// would take the round's interval at least), and the round gives up at its
// interval.
func TestSlowFE(t *testing.T) {
	c := newCluster()
	addr := fakedoris.ServeT(t, c, feHost)
	c.SetDelay(5 * time.Second)
	const interval = 300 * time.Millisecond
	member := probes.Check{Name: probes.CheckMembership, Run: func(ctx context.Context) error {
		return cluster.FrontendMember(ctx, &cluster.Client{}, addr, feHost, 9010)
	}}
	srv := probes.New(probes.Config{Component: "fe", Interval: interval, Ready: []probes.Check{member}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	srv.SetState(running(9))
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	var worst time.Duration
	var reason string
	for reason == "" {
		for _, p := range []string{probes.PathLive, probes.PathReady, probes.PathStartup, probes.PathStatus} {
			t0 := time.Now()
			resp, err := http.Get(h.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			worst = max(worst, time.Since(t0))
			if p == probes.PathReady && strings.Contains(string(b), "membership:") {
				reason = string(b)
			}
		}
	}
	if worst >= interval {
		t.Fatalf("a probe took %s while the FE was slow: it waited for a round (interval %s)", worst, interval)
	}
	if !strings.Contains(reason, "context deadline exceeded") && !strings.Contains(reason, "timeout") {
		t.Fatalf("reason %q", reason)
	}
	t.Logf("worst probe %s; %s", worst, strings.TrimSpace(reason))
}

// The endpoint takes body-less GET and HEAD only, bounds headers, and shows
// no secret.
func TestHandlerHardening(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	f.ready.set(errors.New("show frontends on 127.0.0.1:9030: access denied for root, then admin"))
	f.srv.SetState(running(5))
	waitFor(t, "a round", func() bool { return f.ready.runs.Load() > 0 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.srv.Serve(ctx, ln)
	base := "http://" + ln.Addr().String()
	do := func(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, tt := range []struct {
		method, path string
		body         io.Reader
		hdr          map[string]string
		code         int
	}{
		{"GET", probes.PathLive, nil, nil, 200},
		{"HEAD", probes.PathReady, nil, nil, 503},
		{"GET", probes.PathStartup, nil, nil, 200},
		{"POST", probes.PathReady, nil, nil, 405},
		{"PUT", probes.PathStatus, strings.NewReader("x"), nil, 405},
		{"DELETE", probes.PathLive, nil, nil, 405},
		{"GET", probes.PathLive, strings.NewReader("body"), nil, 413},
		{"GET", "/debug/pprof/", nil, nil, 404},
		{"GET", "/", nil, nil, 404},
		{"GET", probes.PathLive, nil, map[string]string{"X-Big": strings.Repeat("a", 64<<10)}, 431},
	} {
		resp, body := do(tt.method, tt.path, tt.body, tt.hdr)
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s: %d %q, want %d", tt.method, tt.path, resp.StatusCode, body, tt.code)
		}
		if tt.method == "HEAD" && body != "" {
			t.Errorf("HEAD with a body %q", body)
		}
	}
	resp, body := do("GET", probes.PathReady, nil, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		strings.Count(body, "\n") != 1 || !strings.Contains(body, "access denied") {
		t.Errorf("readyz: %d %q", resp.StatusCode, body)
	}
	_, body = do("GET", probes.PathStatus, nil, nil)
	var st probes.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Component != "fe" || st.Phase != "running" || st.Child.PID != 5 || st.Child.State != "running" || st.Version != "test" ||
		st.Probes["ready"].OK || !st.Probes["live"].OK || st.Checks[probes.CheckHealth].OK || st.Checks[probes.CheckPort].AgeSeconds < 0 {
		t.Errorf("status %s", body)
	}
	_, body = do("GET", probes.PathMetrics, nil, nil)
	for _, want := range []string{
		`doris_entrypoint_mode{mode="normal"} 1`, `doris_entrypoint_child_up 1`, `doris_entrypoint_probe_ok{probe="ready"} 0`,
		`doris_entrypoint_check_failures_total{check="health"}`, `doris_entrypoint_check_duration_seconds_bucket{check="port"`,
		`doris_entrypoint_signals_forwarded_total 0`, `doris_entrypoint_orphans_reaped_total 0`, `doris_entrypoint_info{component="fe",version="test"} 1`,
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	for in, want := range map[string]string{":8099": "127.0.0.1:8099", "0.0.0.0:1": "127.0.0.1:1", "[::]:8099": "[::1]:8099",
		"10.1.2.3:8099": "10.1.2.3:8099", "localhost:9": "localhost:9"} {
		if got, err := probes.LoopbackAddr(in); err != nil || got != want {
			t.Errorf("LoopbackAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := probes.LoopbackAddr("8099"); err == nil {
		t.Error("a bare port accepted")
	}
}

// getReady asks /readyz with a wait and reports the answer and how long it
// took.
func getReady(t *testing.T, ctx context.Context, url, wait string) (int, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+probes.PathReady+"?wait="+wait, nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error(), time.Since(start)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// /readyz?wait= holds the request until the verdict flips: a kubelet
// probing with it sees debug mode, a stop or a child that turned ready at
// once, not up to a period later. A request nobody flips answers at its
// wait; bad waits are refused; only a few are held at once.
func TestReadyWaitsForFlip(t *testing.T) {
	// A child start's first round comes interval/16 after the last one.
	f := newFixture(t, 2*time.Second)
	h := httptest.NewServer(f.srv.Handler())
	t.Cleanup(h.Close)
	f.srv.SetState(running(1))
	waitFor(t, "ready", func() bool { ok, _ := f.srv.Ready(); return ok })

	held := func(n int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d held requests", n), func() bool { return f.srv.Waiting() == n })
	}
	type answer struct {
		code int
		body string
		took time.Duration
	}
	ask := func(wait string) chan answer {
		ch := make(chan answer, 1)
		go func() { c, b, d := getReady(t, context.Background(), h.URL, wait); ch <- answer{c, b, d} }()
		return ch
	}
	// The first answer is news: at once.
	if code, _, took := getReady(t, context.Background(), h.URL, "4s"); code != 200 || took >= 4*time.Second {
		t.Fatalf("first request: %d after %s", code, took)
	}
	// Ready → debug mode: the held request answers 503 at the flip.
	got := ask("4s")
	held(1)
	f.srv.SetState(modes.State{Mode: "debug", Phase: modes.PhaseDebug})
	a := <-got
	if a.code != 503 || !strings.Contains(a.body, "debug mode") || a.took >= 4*time.Second {
		t.Fatalf("held through the switch to debug: %d %q after %s", a.code, a.body, a.took)
	}
	// Not ready → a new child passes its checks: 200 at once.
	got = ask("4s")
	held(1)
	f.srv.SetState(running(2))
	a = <-got
	if a.code != 200 || !strings.Contains(a.body, "ready: pid 2") || a.took >= 4*time.Second {
		t.Fatalf("held through the child start: %d %q after %s", a.code, a.body, a.took)
	}
	// No flip: the verdict at the end of the wait.
	if code, body, _ := getReady(t, context.Background(), h.URL, "20ms"); code != 200 {
		t.Fatalf("no flip: %d %q", code, body)
	}
	for _, bad := range []string{"soon", "-1s"} {
		if code, _, _ := getReady(t, context.Background(), h.URL, bad); code != 400 {
			t.Fatalf("wait=%s: %d, want 400", bad, code)
		}
	}
	// Eight held at most; the ninth answers at once.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); getReady(t, ctx, h.URL, "4s") }()
	}
	held(8)
	if code, _, took := getReady(t, context.Background(), h.URL, "4s"); code != 200 || took >= 4*time.Second {
		t.Fatalf("ninth request: %d after %s", code, took)
	}
	cancel()
	wg.Wait()
	held(0)
	// A flip while no request was held: the next one answers at once.
	f.srv.SetState(modes.State{Mode: "debug", Phase: modes.PhaseDebug})
	if code, body, took := getReady(t, context.Background(), h.URL, "4s"); code != 503 || took >= 4*time.Second {
		t.Fatalf("after an unseen flip: %d %q after %s", code, body, took)
	}
	f.srv.SetState(running(3))
	waitFor(t, "ready", func() bool { ok, _ := f.srv.Ready(); return ok })
	if code, body, took := getReady(t, context.Background(), h.URL, "4s"); code != 200 || took >= 4*time.Second {
		t.Fatalf("after an unseen flip back: %d %q after %s", code, body, took)
	}
	// A stop request flips it too.
	got = ask("4s")
	held(1)
	close(f.stop)
	a = <-got
	if a.code != 503 || !strings.Contains(a.body, "stopping") || a.took >= 4*time.Second {
		t.Fatalf("held through the stop request: %d %q after %s", a.code, a.body, a.took)
	}
}

// A child that needs a moment to open its ports is ready within that moment,
// not at the next interval: after a start, failed rounds retry from
// interval/16, doubling.
func TestReadySoonAfterStart(t *testing.T) {
	const interval = 4 * time.Second
	var runs atomic.Int64
	health := probes.Check{Name: probes.CheckHealth, Run: func(context.Context) error {
		if runs.Add(1) < 3 {
			return errors.New("connection refused")
		}
		return nil
	}}
	srv := probes.New(probes.Config{Component: "be", Interval: interval, Ready: []probes.Check{health}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	start := time.Now()
	srv.SetState(running(9))
	waitFor(t, "ready", func() bool { ok, _ := srv.Ready(); return ok })
	// Two retries: interval/16 + interval/8 = 0.75 s; one interval without them.
	if el := time.Since(start); el >= interval {
		t.Fatalf("ready after %s (%d rounds): the failed rounds waited for the interval", el, runs.Load())
	}
	if n := runs.Load(); n != 3 {
		t.Fatalf("%d rounds, want 3", n)
	}
}

// A prober whose timeout is shorter than its wait fails every held probe:
// one log line says so.
func TestReadyWaitBeyondTimeoutWarns(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	srv := probes.New(probes.Config{Component: "fe", Interval: time.Second, Logger: zap.New(core)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	srv.SetState(running(1))
	waitFor(t, "ready", func() bool { ok, _ := srv.Ready(); return ok })
	getReady(t, context.Background(), h.URL, "4s") // the first answer: at once
	for i := 0; i < 2; i++ {
		short, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if code, _, _ := getReady(t, short, h.URL, "4s"); code != 0 {
			t.Fatalf("the held request answered %d before the client's timeout", code)
		}
		stop()
	}
	const msg = "a /readyz?wait= probe gave up before its answer"
	waitFor(t, "the warning", func() bool { return logs.FilterMessageSnippet(msg).Len() > 0 })
	waitFor(t, "no held request", func() bool { return srv.Waiting() == 0 })
	if n := logs.FilterMessageSnippet(msg).Len(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
}

// At the limit a new connection is served at once: the one that has waited
// longest without a request in progress (here: headers never sent) is
// closed to make room, the others stay (issue 13 item 1). Loopback connections (the exec
// probe) have a pool of their own, which the network's cannot fill.
func TestConnectionLimit(t *testing.T) {
	f := newFixture(t, time.Hour)
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	loopback := net.JoinHostPort("127.0.0.1", port)
	pools := []struct {
		name, addr string
		max        int
	}{{"loopback", loopback, 16}}
	if ip := nonLoopbackIP(); ip != "" {
		pools = append(pools, struct {
			name, addr string
			max        int
		}{"network", net.JoinHostPort(ip, port), 64})
	} else {
		t.Log("no non-loopback address: the network pool is not tested")
	}
	get := func(t *testing.T, addr string) {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Second}
		resp, err := hc.Get("http://" + addr + probes.PathLive)
		if err != nil {
			t.Fatalf("a new connection at the limit: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a new connection at the limit: %d", resp.StatusCode)
		}
	}
	// open reports whether the endpoint keeps c open (it says nothing to a
	// connection that sent nothing, within the 2 s header timeout).
	open := func(c net.Conn, wait time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(wait))
		var b [1]byte
		_, err := c.Read(b[:])
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	for _, p := range pools {
		t.Run(p.name, func(t *testing.T) {
			var held []net.Conn
			for range p.max {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				held = append(held, c)
			}
			if p.addr != loopback {
				get(t, loopback)
				if !open(held[0], 50*time.Millisecond) {
					t.Fatal("a loopback connection closed a network one")
				}
			}
			get(t, p.addr)
			if open(held[0], time.Second) {
				t.Fatal("the connection that waited longest is still open")
			}
			for i, c := range held[1:] {
				if !open(c, 5*time.Millisecond) {
					t.Fatalf("connection %d closed; only the one that waited longest should be", i+1)
				}
			}
		})
	}
}

// nonLoopbackIP is an IPv4 address of this host other than loopback, or "".
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}
