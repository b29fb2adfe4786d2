package hold_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/earlystart/hold"
)

// Without the entry point (go test links none) nothing is held.
func TestNoEntryPoint(t *testing.T) {
	if hold.Entered() {
		t.Skip("linked with the entry point")
	}
	hold.Release()
	if got := hold.Take(); got != 0 {
		t.Fatalf("Take = %#x without the entry point", got)
	}
}

// The rescue of step 5, driven by hand: test/startsignal builds this test
// with the entry point (-ldflags -E .../earlystart.entry) and runs it. The
// first image gives SIGTERM back to the runtime's handler and arms the
// rescue, as in the window after initsig, and raises SIGTERM: dieFromSignal
// forwards it to the handler, which re-executes the test binary. The second
// image must have the SIGTERM held, the carried child, the mask and the
// environment it started with.
func TestRescue(t *testing.T) {
	if !hold.Entered() {
		t.Skip("needs the entry point: go test -ldflags '-E github.com/apache/doris-entrypoint/supervisor/earlystart.entry'")
	}
	if hold.Reexeced() {
		if got := hold.Take(); got&(1<<(syscall.SIGTERM-1)) == 0 {
			t.Errorf("held %#x after the rescue, want SIGTERM", got)
		}
		if pid, err := earlystart.Child(); pid != 12345 || err != nil {
			t.Errorf("earlystart.Child() = %d, %v after the rescue, want the carried 12345", pid, err)
		}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "DORIS_ENTRYPOINT_HELD=") {
				t.Errorf("the rescue's variable is left in the environment: %s", kv)
			}
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(status), "\nSigBlk:\t0000000000000000\n") {
			t.Errorf("mask after the rescue, want the one it started with (none):\n%s", status)
		}
		t.Log("rescued")
		return
	}
	hold.Release()
	hold.SetCarry(12345)
	hold.Arm()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(10 * time.Second) // a deadline: the rescue replaces this process at once
	t.Fatal("no rescue: still running 10 s after SIGTERM")
}
