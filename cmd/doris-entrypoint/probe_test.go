package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/supervisor/modes"
)

// `probe ready --wait` is the exec form of the long poll: the first answer
// at once, then held until the verdict flips.
func TestProbeReadyWait(t *testing.T) {
	srv := probes.New(probes.Config{Component: "be", Interval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	srv.SetState(modes.State{Component: "be", Mode: "normal", Phase: modes.PhaseRunning, ChildPID: 5})
	probe := func(args ...string) (int, string, time.Duration) {
		var out, errb bytes.Buffer
		start := time.Now()
		code := runProbe(append([]string{"ready", "--addr", ln.Addr().String()}, args...), noEnv, &out, &errb)
		return code, out.String() + errb.String(), time.Since(start)
	}
	if code, out, took := probe("--wait", "4s"); code != 0 || took >= 4*time.Second {
		t.Fatalf("first answer: %d %q after %s", code, out, took)
	}
	type result struct {
		code int
		out  string
		took time.Duration
	}
	done := make(chan result, 1)
	go func() { c, o, d := probe("--wait", "4s"); done <- result{c, o, d} }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the probe was not held")
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.SetState(modes.State{Component: "be", Mode: "debug", Phase: modes.PhaseDebug})
	r := <-done
	if r.code != 1 || !strings.Contains(r.out, "debug mode") || r.took >= 4*time.Second {
		t.Fatalf("held probe at the switch: %d %q after %s", r.code, r.out, r.took)
	}
	for _, bad := range [][]string{{"live", "--wait", "1s"}, {"ready", "--wait", "-1s"}} {
		var out bytes.Buffer
		if code := runProbe(append(bad, "--addr", ln.Addr().String()), noEnv, &out, &out); code != exitUsage {
			t.Errorf("%v: exit %d, want usage", bad, code)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }
