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

// serve runs Serve on a fresh socket until the test ends and returns its
// path and how many stop requests it passed on.
func serve(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stops atomic.Int32
	go func() { done <- Serve(ctx, path, func(string) { stops.Add(1) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return path, &stops
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
			path, stops := serve(t)
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
	path, stops := serve(t)
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
