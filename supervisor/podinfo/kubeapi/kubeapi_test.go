package kubeapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/fakekube"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

func newAPI(t *testing.T) (*fakekube.Server, *rest.Config) {
	t.Helper()
	a := &fakekube.Server{Pod: corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "be-0", Namespace: "doris", UID: "6f1c-uid", ResourceVersion: "7", Annotations: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
	}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	// No client-side rate limit: the gaps between requests are the watch
	// loop's own.
	return a, &rest.Config{Host: srv.URL, QPS: -1}
}

type feeds struct {
	mu  sync.Mutex
	got []map[string]string
}

func (f *feeds) feed(ann map[string]string) {
	f.mu.Lock()
	f.got = append(f.got, ann)
	f.mu.Unlock()
}

func (f *feeds) waitFor(t *testing.T, key, value string) {
	t.Helper()
	eventually(t, "a feed with "+key+"="+value, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := len(f.got)
		return n > 0 && f.got[n-1][key] == value
	})
}

// eventually polls cond until it holds, and fails the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// locked reads a field of the fake API server under its lock.
func locked[T any](a *fakekube.Server, f func() T) T {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	return f()
}

func TestWatchFeedsAnnotations(t *testing.T) {
	a, rc := newAPI(t)
	c, err := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
	if err != nil || c == nil {
		t.Fatalf("New: %v %v", c, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f feeds
	done := make(chan struct{})
	go func() { c.Watch(ctx, f.feed); close(done) }()
	f.waitFor(t, "a", "b")
	// The watch is open once the server has a watcher.
	eventually(t, "a watch", func() bool { return locked(a, func() int { return len(a.Watchers) }) > 0 })
	t0 := time.Now()
	a.Annotate(map[string]string{"selectdb.com.doris/runmode": "debug"})
	f.waitFor(t, "selectdb.com.doris/runmode", "debug")
	t.Logf("annotation seen %s after the change", time.Since(t0))
	cancel()
	waitReturn(t, done)
}

// watching runs c.Watch until ctx ends; the channel closes when it returns.
func watching(ctx context.Context, c *Client) <-chan struct{} {
	done := make(chan struct{})
	go func() { c.Watch(ctx, func(map[string]string) {}); close(done) }()
	return done
}

func waitReturn(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

// testBackoff is watchBackoff scaled down for tests.
func testBackoff(first, limit time.Duration) wait.Backoff {
	b := watchBackoff
	b.Duration, b.Cap = first, limit
	return b
}

// retryWaits are the waits the watch loop logged, in order.
func retryWaits(logs *observer.ObservedLogs) []time.Duration {
	var out []time.Duration
	for _, e := range logs.FilterMessage("pod watch failed; retrying").All() {
		out = append(out, e.ContextMap()["wait"].(time.Duration))
	}
	return out
}

// checkGaps fails unless the n GETs after the first were each at least
// its wait after the one before.
func checkGaps(t *testing.T, a *fakekube.Server, want []time.Duration) {
	t.Helper()
	times := locked(a, func() []time.Time { return append([]time.Time(nil), a.GetTimes...) })
	if len(times) <= len(want) {
		t.Fatalf("%d GETs, want %d", len(times), len(want)+1)
	}
	for i, w := range want {
		if gap := times[i+1].Sub(times[i]); gap < w {
			t.Errorf("GET %d came %s after the one before, want at least %s", i+2, gap, w)
		}
	}
}

// The parameters of the watch loop's backoff: 0.5 s doubling up to 30 s,
// no jitter, and no end.
func TestWatchBackoffParameters(t *testing.T) {
	c, err := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: &rest.Config{Host: "http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	b := c.backoff
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.Step(); got != w {
			t.Fatalf("step %d: %s, want %s", i+1, got, w)
		}
	}
	for i := 0; i < 1000; i++ {
		if got := b.Step(); got != 30*time.Second {
			t.Fatalf("step %d: %s, want 30s for ever", len(want)+i+1, got)
		}
	}
}

// Failed GETs are retried after waits that double up to the cap, and the
// wait is really waited.
func TestWatchBacksOffOnErrors(t *testing.T) {
	a, rc := newAPI(t)
	a.FailGets = 6
	core, logs := observer.New(zap.InfoLevel)
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc, Logger: zap.New(core)})
	c.backoff = testBackoff(10*time.Millisecond, 80*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := watching(ctx, c)
	eventually(t, "a watch after 6 failed GETs", func() bool { return locked(a, func() int { return len(a.Watchers) }) > 0 })
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 80 * ms, 80 * ms}
	if got := retryWaits(logs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	checkGaps(t, a, want)
	cancel()
	waitReturn(t, done)
}

// The backoff starts over once a GET has succeeded and its watch did not
// end at once on its own (here: the watch fails).
func TestWatchBackoffStartsOver(t *testing.T) {
	a, rc := newAPI(t)
	a.FailGets, a.FailWatch = 4, true
	core, logs := observer.New(zap.InfoLevel)
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc, Logger: zap.New(core)})
	c.backoff = testBackoff(10*time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := watching(ctx, c)
	eventually(t, "8 retries", func() bool { return len(retryWaits(logs)) >= 8 })
	cancel()
	waitReturn(t, done)
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 10 * ms, 10 * ms, 10 * ms}
	if got := retryWaits(logs)[:len(want)]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	checkGaps(t, a, want)
}

// A watch that ends (timeout, expiry) is followed by a re-list; one that
// ends at once each time is backed off like an error, not reset.
func TestWatchRelists(t *testing.T) {
	a, rc := newAPI(t)
	a.Expire = true
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
	c.backoff = testBackoff(20*time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := watching(ctx, c)
	eventually(t, "5 GETs: re-lists after the watch ended", func() bool { return locked(a, func() int { return a.Gets }) >= 5 })
	cancel()
	waitReturn(t, done)
	ms := time.Millisecond
	checkGaps(t, a, []time.Duration{20 * ms, 40 * ms, 80 * ms, 160 * ms})
}

// The context ends the wait between retries at once.
func TestWatchHonoursContextWhileBackingOff(t *testing.T) {
	a, rc := newAPI(t)
	a.FailGets = 1 << 30
	core, logs := observer.New(zap.InfoLevel)
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc, Logger: zap.New(core)})
	c.backoff = testBackoff(time.Hour, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := watching(ctx, c)
	eventually(t, "a retry", func() bool { return len(retryWaits(logs)) > 0 })
	if w := retryWaits(logs)[0]; w != time.Hour {
		t.Fatalf("wait %s, want 1h", w)
	}
	cancel()
	waitReturn(t, done)
	if n := locked(a, func() int { return a.Gets }); n != 1 {
		t.Fatalf("%d GETs, want 1", n)
	}
}

// Forbidden: one log line and the watch gives up; events warn once.
func TestForbidden(t *testing.T) {
	a, rc := newAPI(t)
	a.Forbidden = true
	core, logs := observer.New(zap.InfoLevel)
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc, Logger: zap.New(core)})
	done := make(chan struct{})
	go func() { c.Watch(context.Background(), func(map[string]string) {}); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch kept trying although forbidden")
	}
	for i := 0; i < 3; i++ {
		c.Event(Normal, "Test", "x")
		c.Flush(5 * time.Second)
	}
	if n := logs.FilterMessage("no API access to the pod: the downward-API file alone sets the mode").Len(); n != 1 {
		t.Fatalf("%d forbidden lines: %v", n, logs.All())
	}
	if n := logs.FilterMessage("cannot record an Event on the pod").Len(); n != 1 {
		t.Fatalf("%d event warnings: %v", n, logs.All())
	}
}

func TestEvent(t *testing.T) {
	a, rc := newAPI(t)
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
	c.Event(Normal, "DebugModeEntered", "query_port 9030 → 19030")
	c.Flush(5 * time.Second)
	a.Mu.Lock()
	defer a.Mu.Unlock()
	if len(a.Events) != 1 {
		t.Fatalf("events %+v", a.Events)
	}
	ev := a.Events[0]
	if ev.InvolvedObject.UID != "6f1c-uid" || ev.InvolvedObject.Name != "be-0" || ev.Reason != "DebugModeEntered" ||
		ev.Type != "Normal" || ev.Source.Component != "doris-entrypoint" || !strings.HasPrefix(ev.GenerateName, "be-0.") {
		t.Fatalf("event %+v", ev)
	}
}

func TestNewModes(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if c, err := New(Config{Mode: Auto, Namespace: "doris", Name: "be-0"}); c != nil || err != nil {
		t.Fatalf("auto outside a cluster: %v %v", c, err)
	}
	if c, err := New(Config{Mode: Off}); c != nil || err != nil {
		t.Fatalf("off: %v %v", c, err)
	}
	if _, err := New(Config{Mode: On, Namespace: "doris", Name: "be-0"}); err == nil {
		t.Fatal("on outside a cluster: no error")
	}
	if _, err := New(Config{Mode: "maybe"}); err == nil {
		t.Fatal("a bad mode accepted")
	}
}
