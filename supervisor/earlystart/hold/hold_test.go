package hold_test

import (
	"fmt"
	"os"
	"runtime"
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
		// Started with none blocked: the runtime's threads block Kept
		// alone (step 3).
		if got := hold.KeptBlocked(); got != hold.Kept {
			t.Errorf("KeptBlocked() = %#x after the rescue, want Kept (%#x): the carried mask is not the one it started with", got, hold.Kept)
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("\nSigBlk:\t%016x\n", hold.Kept); !strings.Contains(string(status), want) {
			t.Errorf("mask after the rescue, want Kept alone (%q):\n%s", want, status)
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

// The rescue after init, driven by hand (test/startsignal runs it as it runs
// TestRescue): the runtime's handler caught a SIGTERM just before init took
// the handlers back, and its dieFromSignal raises it again on its own thread
// (tgkill) once init has: the kernel calls this package's handler directly,
// which must rescue, as the runtime would next make SIGTERM SIG_DFL, raise it
// once more (dropped by PID 1) and exit 2.
func TestRescueAfterInit(t *testing.T) {
	if !hold.Entered() {
		t.Skip("needs the entry point: go test -ldflags '-E github.com/apache/doris-entrypoint/supervisor/earlystart.entry'")
	}
	if hold.Reexeced() {
		if got := hold.Take(); got&(1<<(syscall.SIGTERM-1)) == 0 {
			t.Errorf("held %#x after the rescue, want SIGTERM", got)
		}
		t.Log("rescued")
		return
	}
	// As after init: the handlers are this package's, the rescue armed.
	runtime.LockOSThread()
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGTERM) // as dieFromSignal's raise
	time.Sleep(10 * time.Second)                                   // a deadline: the rescue replaces this process at once
	t.Fatalf("no rescue: still running 10 s after a SIGTERM raised on its own thread after init (held %#x)", hold.Take())
}
