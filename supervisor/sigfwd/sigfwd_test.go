package sigfwd

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func next(t *testing.T, f *Forwarder) Event {
	t.Helper()
	select {
	case ev := <-f.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

// Start may succeed once per process: the tests share one Forwarder.
var fwd *Forwarder

func TestMain(m *testing.M) {
	var err error
	if fwd, err = Start(syscall.SIGUSR1, SIGRTMIN, 40); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func TestForwarder(t *testing.T) {
	f := fwd
	if _, err := Start(syscall.SIGUSR2); err == nil {
		t.Fatal("second Start succeeded")
	}

	// No target: signals arrive as events, unforwarded. SIGRTMIN would
	// kill the test process without the assembly handler.
	for _, sig := range []syscall.Signal{SIGRTMIN, syscall.SIGUSR1, 40} {
		syscall.Kill(syscall.Getpid(), sig)
		if ev := next(t, f); ev.Signal != sig || ev.Forwarded {
			t.Fatalf("got %+v, want unforwarded %v", ev, sig)
		}
	}

	// With a target, the handler forwards to the group itself.
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f.SetTarget(cmd.Process.Pid)
	defer f.SetTarget(0)
	syscall.Kill(syscall.Getpid(), SIGRTMIN)
	ev := next(t, f)
	if ev.Signal != SIGRTMIN || !ev.Forwarded || ev.PGID != cmd.Process.Pid {
		t.Fatalf("got %+v, want SIGRTMIN forwarded to %d", ev, cmd.Process.Pid)
	}
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != SIGRTMIN {
		t.Fatalf("sleep ended with %v, want killed by SIGRTMIN", err)
	}

	// Sync: the marker comes after everything handled before it. A signal
	// to this very thread is handled before tgkill returns.
	runtime.LockOSThread()
	syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), syscall.SIGUSR1)
	runtime.UnlockOSThread()
	f.Sync()
	if ev := next(t, f); ev.Signal != syscall.SIGUSR1 {
		t.Fatalf("got %+v before the marker", ev)
	}
	if ev := next(t, f); ev.Signal != 0 {
		t.Fatalf("got %+v, want the marker", ev)
	}
}
