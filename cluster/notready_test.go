package cluster

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// roundRobinT listens on one loopback address and hands each new
// connection to the next of backends, as a Service may: the FE behind a
// connection is fixed for its life, a new connection may reach another.
func roundRobinT(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for next := 0; ; next++ {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", backends[next%len(backends)])
			if err != nil {
				in.Close()
				continue
			}
			wg.Go(func() {
				var pipes sync.WaitGroup
				pipes.Go(func() { io.Copy(out, in); out.Close() })
				pipes.Go(func() { io.Copy(in, out); in.Close() })
				pipes.Wait()
			})
		}
	})
	return ln.Addr().String()
}

// Three FEs behind one address, two of them answering "Node catalog is
// not ready" (Doris' MasterOpExecutor.forward before its catalog is
// ready): a statement answered "not ready" is asked again on a new
// connection, so the backend registers in the first rounds. Before, each
// statement went to whichever FE its one connection reached, and with the
// ready FE third in turn, registration never completed.
func TestRegisterPastNotReadyFEs(t *testing.T) {
	ready := fakedoris.NewCluster(fakedoris.Layout21)
	readyAddr := fakedoris.ServeFrontendT(t, ready, "127.0.0.1", "FOLLOWER", true)
	var backends []string
	for range 2 {
		c := fakedoris.NewCluster(fakedoris.Layout21)
		c.SetCatalogNotReady(true)
		backends = append(backends, fakedoris.ServeFrontendT(t, c, "127.0.0.1", "FOLLOWER", false))
	}
	svc := roundRobinT(t, append(backends, readyAddr)...)

	core, logs := observer.New(zap.InfoLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := Registration{Client: &Client{}, FEAddrs: []string{svc}, Host: "cn-0.cn-internal", HeartbeatPort: 9050,
		Logger: zap.New(core), Interval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
	if err := r.Register(ctx); err != nil {
		t.Fatalf("not registered through the Service: %v", err)
	}
	done := logs.FilterMessage("backend registered").All()
	if len(done) != 1 {
		t.Fatalf("%d 'backend registered' lines", len(done))
	}
	if a := done[0].ContextMap()["attempt"].(int64); a > 2 {
		t.Fatalf("registered at attempt %d, want within 2", a)
	}
	listed := false
	for _, be := range ready.Backends() {
		listed = listed || be.Host == "cn-0.cn-internal"
	}
	if !listed {
		t.Fatal("the master does not list the backend")
	}
}

// NotReady tells Doris' answer from the other refusals.
func TestNotReady(t *testing.T) {
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.SetCatalogNotReady(true)
	addr := fakedoris.ServeFrontendT(t, c, "127.0.0.1", "FOLLOWER", true)
	_, err := (&Client{}).ShowBackends(context.Background(), addr)
	if !NotReady(err) {
		t.Fatalf("NotReady(%v) = false", err)
	}
	for _, e := range []error{nil, errors.New("Node catalog is not ready"), context.DeadlineExceeded} {
		if NotReady(e) {
			t.Errorf("NotReady(%v) = true", e)
		}
	}
}
