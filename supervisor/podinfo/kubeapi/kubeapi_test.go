package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// apiServer plays the few kube-apiserver endpoints the client uses: GET the
// pod, watch it (newline-delimited JSON events), POST events; or 403 for all.
type apiServer struct {
	mu        sync.Mutex
	pod       corev1.Pod
	watchers  []chan corev1.Pod
	events    []corev1.Event
	forbidden bool
	expire    bool // end each watch at once (as a watch timeout does)
	gets      int
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	forbidden := a.forbidden
	a.mu.Unlock()
	if forbidden {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
			`"message":"pods \"be-0\" is forbidden: User \"system:serviceaccount:doris:default\" cannot get resource \"pods\""}`)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/doris/pods/be-0":
		a.mu.Lock()
		a.gets++
		b, _ := json.Marshal(a.pod)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/doris/pods" && r.URL.Query().Get("watch") == "true":
		if r.URL.Query().Get("fieldSelector") != "metadata.name=be-0" {
			http.Error(w, "want a field selector on the name", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		a.mu.Lock()
		if a.expire {
			a.mu.Unlock()
			return
		}
		ch := make(chan corev1.Pod, 16)
		a.watchers = append(a.watchers, ch)
		a.mu.Unlock()
		for {
			select {
			case <-r.Context().Done():
				return
			case pod := <-ch:
				b, _ := json.Marshal(map[string]any{"type": "MODIFIED", "object": pod})
				w.Write(append(b, '\n'))
				w.(http.Flusher).Flush()
			}
		}
	case r.Method == "POST" && r.URL.Path == "/api/v1/namespaces/doris/events":
		var ev corev1.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		a.mu.Lock()
		a.events = append(a.events, ev)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(ev)
	default:
		http.Error(w, "not here: "+r.Method+" "+r.URL.String(), 404)
	}
}

// annotate changes the pod and tells the watchers.
func (a *apiServer) annotate(ann map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pod.Annotations = ann
	a.pod.ResourceVersion = fmt.Sprint(len(a.events) + 100 + len(ann))
	for _, ch := range a.watchers {
		ch <- a.pod
	}
}

func newAPI(t *testing.T) (*apiServer, *rest.Config) {
	t.Helper()
	a := &apiServer{pod: corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "be-0", Namespace: "doris", UID: "6f1c-uid", ResourceVersion: "7", Annotations: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
	}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, &rest.Config{Host: srv.URL}
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
func locked[T any](a *apiServer, f func() T) T {
	a.mu.Lock()
	defer a.mu.Unlock()
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
	go c.Watch(ctx, f.feed)
	f.waitFor(t, "a", "b")
	// The watch is open once the server has a watcher.
	eventually(t, "a watch", func() bool { return locked(a, func() int { return len(a.watchers) }) > 0 })
	t0 := time.Now()
	a.annotate(map[string]string{"selectdb.com.doris/runmode": "debug"})
	f.waitFor(t, "selectdb.com.doris/runmode", "debug")
	t.Logf("annotation seen %s after the change", time.Since(t0))
}

// A watch that ends (timeout, expiry) is followed by a re-list.
func TestWatchRelists(t *testing.T) {
	a, rc := newAPI(t)
	a.expire = true
	c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f feeds
	go c.Watch(ctx, f.feed)
	eventually(t, "3 GETs: a re-list after the watch ended", func() bool { return locked(a, func() int { return a.gets }) >= 3 })
}

// Forbidden: one log line and the watch gives up; events warn once.
func TestForbidden(t *testing.T) {
	a, rc := newAPI(t)
	a.forbidden = true
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
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) != 1 {
		t.Fatalf("events %+v", a.events)
	}
	ev := a.events[0]
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
