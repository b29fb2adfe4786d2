package probes_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// probeTimeout is the kubelet's: the operator leaves the probes'
// timeoutSeconds at Kubernetes' default, 1 s (apache/doris-operator
// pkg/common/utils/resource/pod.go). A probe that answers in it passes; how
// fast it answers is a figure of make bench, not a bound here.
const probeTimeout = time.Second

// Idle keep-alive connections and slowloris connections on the pod network
// never starve a probe: /livez (the kubelet's httpGet, from the pod network
// too) and `doris-entrypoint probe live` (from inside the pod, its own
// 0.9 s deadline) every time pass within the kubelet's timeout while 64
// clients each keep a keep-alive connection open
// after one GET and 200 others send their headers a line a second, every
// one of them reconnecting when dropped (issue 13 item 1). The host's own
// non-loopback address stands for the pod network.
func TestProbesNotStarved(t *testing.T) {
	podIP := nonLoopbackIP(t)
	port := strconv.Itoa(harness.FreePort(t, 0))
	n := newNode(t, "fe")
	n.extraEnv = []string{"DORIS_ENTRYPOINT_PROBE_ADDR=:" + port}
	n.start(t)
	n.endpoint = "127.0.0.1:" + port // the exec probe's way in
	pod := net.JoinHostPort(podIP, port)
	n.waitProbe(t, "/livez", 200)
	for _, tc := range []struct {
		name       string
		idle, slow int
	}{
		{"64 idle keep-alive", 64, 0},
		{"200 slowloris", 0, 200},
		{"both", 64, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attack(t, pod, tc.idle, tc.slow)
			var livez, execs []time.Duration
			hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: probeTimeout}
			for range 10 {
				t0 := time.Now()
				resp, err := hc.Get("http://" + pod + "/livez")
				if err != nil {
					t.Errorf("/livez after %s: %v", time.Since(t0), err)
					break
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				livez = append(livez, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					t.Errorf("/livez: %d", resp.StatusCode)
				}
			}
			for range 5 {
				code, out, el := n.execProbe(t, "live")
				execs = append(execs, el)
				if code != 0 {
					t.Errorf("probe live: exit %d after %s: %q", code, el, out)
					break
				}
			}
			// The figures, for the log: every probe passed, which is the
			// behaviour (an exec probe past its deadline exits 1).
			t.Logf("/livez %v (median %s); probe live %v (median %s)", livez, median(livez), execs, median(execs))
		})
	}
}

// attack opens idle keep-alive and slowloris connections to addr and keeps
// them open, each reconnecting 0.5–1.5 s after the endpoint drops it, until
// the test ends; it returns once every connection is in place (the
// idle ones answered once, the slow ones connected).
func attack(t *testing.T, addr string, idle, slow int) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections() // the test's own keep-alive is not part of the attack
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var ready atomic.Int64
	run := func(once func(ctx context.Context, c net.Conn, placed func()) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			placed := sync.OnceFunc(func() { ready.Add(1) })
			for ctx.Err() == nil {
				var d net.Dialer
				if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
					stop := context.AfterFunc(ctx, func() { c.Close() })
					once(ctx, c, placed)
					stop()
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(500+rand.IntN(1000)) * time.Millisecond): // the attacker's pace, not a wait for a state
				}
			}
		}()
	}
	for range idle {
		run(func(ctx context.Context, c net.Conn, placed func()) error {
			if _, err := io.WriteString(c, "GET /livez HTTP/1.1\r\nHost: attacker\r\n\r\n"); err != nil {
				return err
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			placed()
			_, err = br.ReadByte() // idle until the endpoint closes it
			return err
		})
	}
	for range slow {
		run(func(ctx context.Context, c net.Conn, placed func()) error {
			if _, err := io.WriteString(c, "GET /livez HTTP/1.1\r\nHost: attacker\r\n"); err != nil {
				return err
			}
			placed()
			b := make([]byte, 512)
			for {
				c.SetReadDeadline(time.Now().Add(time.Second))
				_, err := c.Read(b)
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return err // answered or closed
				}
				if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
					return err
				}
			}
		})
	}
	want := int64(idle + slow)
	const placing = 10 * time.Second
	deadline := time.Now().Add(placing)
	for ready.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d attacking connections in place after %s", ready.Load(), want, placing)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nonLoopbackIP is an IPv4 address of this host other than loopback.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to stand for the pod network")
	return ""
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
