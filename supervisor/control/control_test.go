package control

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs a Server on a fresh socket until the test ends and returns
// it, its path and how many stop requests it passed on.
func serve(t *testing.T) (*Server, string, *atomic.Int32) {
	t.Helper()
	return serveSparing(t, nil)
}

// serveSparing is serve with a spare callback.
func serveSparing(t *testing.T, spare func(pid int)) (*Server, string, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stops atomic.Int32
	srv := NewServer(path, func(string) { stops.Add(1) }, spare)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// Listening once the socket has its mode (Chmod follows Listen); no
	// probe connection, which WaitHooks would count.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err == nil && fi.Mode()&os.ModeSocket != 0 && fi.Mode().Perm() == 0o600 {
			return srv, path, &stops
		}
		if time.Now().After(deadline) {
			t.Fatalf("control socket never listened: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeRequests: "stop" is answered and passed on; anything else,
// including a line longer than the bound, closes the connection unanswered.
func TestServeRequests(t *testing.T) {
	tests := []struct {
		name, send, want string
		stops            int32
	}{
		{"stop", "stop\n", "stopping\n", 1},
		{"stop with blanks", "  stop \r\n", "stopping\n", 1},
		{"unknown request", "restart\n", "", 0},
		{"line over the bound", strings.Repeat("x", maxRequest) + "stop\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, stops := serve(t)
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			got, _ := bufio.NewReader(c).ReadString('\n')
			if got != tt.want {
				t.Fatalf("answer %q, want %q", got, tt.want)
			}
			if n := stops.Load(); n != tt.stops {
				t.Fatalf("%d stop requests passed on, want %d", n, tt.stops)
			}
		})
	}
}

// TestServeBoundsTheRead: a client that sends bytes without a newline is
// cut off after a few KiB, at once, not at the read deadline (it grew PID 1
// to 3.3 GB).
func TestServeBoundsTheRead(t *testing.T) {
	_, path, stops := serve(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunk := []byte(strings.Repeat("x", 64<<10))
	start := time.Now()
	c.SetWriteDeadline(start.Add(2 * time.Second))
	sent := 0
	for {
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server still read after %s and %d bytes: the read is not bounded", time.Since(start), sent)
			}
			break // the server closed the connection
		}
	}
	// What the kernel buffers on the way adds to the bound, not much more.
	if sent > 4<<20 {
		t.Errorf("%d bytes accepted before the server gave up, want about %d", sent, maxRequest)
	}
	if stops.Load() != 0 {
		t.Error("an unbounded line was taken as a stop request")
	}
}

// exitHook stands for the exit of the hook's process in a test: it closes
// the connections Stop keeps open until then (step 4).
func exitHook() {
	held.Lock()
	defer held.Unlock()
	for _, c := range held.conns {
		c.Close()
	}
	held.conns = nil
}

type stopResult struct {
	code    int
	stopped bool
	err     error
}

// TestStopHandshake: the hook learns that the stop is complete from
// Done, not from PID 1's exit (which kills it inside the PID namespace:
// rc 137), keeps its connection until it exits, and PID 1 waits for that.
func TestStopHandshake(t *testing.T) {
	tests := []struct {
		name        string
		before      bool // Done before the hook asks: answered at once
		done        int  // the exit code Done reports; -1: never called
		timeout     time.Duration
		wantCode    int
		wantStopped bool
	}{
		{"done while the hook waits", false, 143, 30 * time.Second, 143, true},
		{"done before the hook asks", true, 0, 30 * time.Second, 0, true},
		{"stop timeout forced SIGKILL", false, 137, 30 * time.Second, 137, true},
		{"never done: the hook's deadline", false, -1, 200 * time.Millisecond, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, path, stops := serve(t)
			t.Cleanup(exitHook)
			if tt.before {
				srv.Done(tt.done)
			}
			res := make(chan stopResult, 1)
			go func() {
				code, stopped, err := Stop(path, tt.timeout)
				res <- stopResult{code, stopped, err}
			}()
			deadline := time.Now().Add(5 * time.Second)
			for stops.Load() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the stop request never reached the server")
				}
				time.Sleep(time.Millisecond)
			}
			if !tt.before && tt.done >= 0 {
				// The stop (a scale-in, the child's cleanup) is still
				// running: the hook must not be told yet.
				select {
				case r := <-res:
					t.Fatalf("Stop returned %+v before Done", r)
				default:
				}
				srv.Done(tt.done)
				srv.Done(1) // a second Done changes nothing
			}
			var r stopResult
			select {
			case r = <-res:
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not return after Done")
			}
			if r.err != nil || r.code != tt.wantCode || r.stopped != tt.wantStopped {
				t.Fatalf("Stop = %d, %v, %v; want %d, %v, nil", r.code, r.stopped, r.err, tt.wantCode, tt.wantStopped)
			}
			if !tt.wantStopped {
				return
			}
			// (5) The hook has not exited: PID 1 waits for it, bounded.
			start := time.Now()
			if n := srv.WaitHooks(100 * time.Millisecond); n != 1 {
				t.Fatalf("WaitHooks with the hook still there: %d open, want 1", n)
			}
			if el := time.Since(start); el < 100*time.Millisecond {
				t.Fatalf("WaitHooks gave up after %s, before its bound", el)
			}
			exitHook()
			if n := srv.WaitHooks(5 * time.Second); n != 0 {
				t.Fatalf("WaitHooks after the hook exited: %d open", n)
			}
		})
	}
}

// TestDoneTellsEveryHook: every hook that waits gets the exit code, each
// on its own connection, and WaitHooks returns once all have left.
func TestDoneTellsEveryHook(t *testing.T) {
	srv, path, stops := serve(t)
	type hook struct {
		c net.Conn
		r *bufio.Reader
	}
	var hooks []hook
	for range 3 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("stop\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); line != "stopping\n" {
			t.Fatalf("answer %q: %v", line, err)
		}
		hooks = append(hooks, hook{c, r})
	}
	if n := stops.Load(); n != 3 {
		t.Fatalf("%d stop requests passed on, want 3", n)
	}
	srv.Done(7)
	for i, h := range hooks {
		if line, err := h.r.ReadString('\n'); line != "stopped 7\n" {
			t.Fatalf("hook %d: %q %v, want \"stopped 7\"", i, line, err)
		}
	}
	if n := srv.WaitHooks(50 * time.Millisecond); n != 3 {
		t.Fatalf("WaitHooks with 3 hooks connected: %d open", n)
	}
	for _, h := range hooks {
		h.c.Close()
	}
	if n := srv.WaitHooks(5 * time.Second); n != 0 {
		t.Fatalf("WaitHooks after the hooks left: %d open", n)
	}
}

// TestServeSparesTheHook: the requesting process is spared before the stop
// begins (as PID 1 the stop signals every process of the namespace, and
// would kill the hook before it can exit 0).
func TestServeSparesTheHook(t *testing.T) {
	var spared atomic.Int64
	var stopsAtSpare atomic.Int32
	var stops *atomic.Int32 // set before the first request
	_, path, stops := serveSparing(t, func(pid int) {
		spared.Store(int64(pid))
		stopsAtSpare.Store(stops.Load())
	})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("stop\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "stopping\n" {
		t.Fatalf("answer %q: %v", line, err)
	}
	if pid := spared.Load(); pid != int64(os.Getpid()) {
		t.Fatalf("spared pid %d, want the hook's %d", pid, os.Getpid())
	}
	if stopsAtSpare.Load() != 0 || stops.Load() != 1 {
		t.Fatal("the stop began before the hook was spared")
	}
}

// TestStopWithoutHandshake: a supervisor that closes the connection
// without "stopped" (killed, or older) counts as stopped, as before; one
// that cannot be reached is an error (prestop exits 1).
func TestStopWithoutHandshake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	if _, _, err := Stop(path, time.Second); err == nil {
		t.Fatal("Stop without a socket: no error")
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("stopping\n"))
		c.Close()
	}()
	code, stopped, err := Stop(path, 10*time.Second)
	if err != nil || !stopped || code != -1 {
		t.Fatalf("Stop = %d, %v, %v; want -1, true, nil", code, stopped, err)
	}
}

// TestLock: one holder at a time; the refusal names the holder and points
// to debug run; unlock lets the next one in.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".doris-entrypoint", "lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	// flock locks belong to the open file: a second open in this process
	// contends as a second process would.
	_, err = Lock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), path, "doris-entrypoint debug run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	unlock()
	again, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}
