// Package startsignal sends SIGTERM to the binary as PID 1 of a fresh PID
// namespace at the earliest instants: when its child has printed "ready"
// (the child of `supervise -- /path`, started at the entry point, runs
// before PID 1's runtime does), and when PID 1 itself has just begun (its
// first instruction has run: the signal is blocked or caught), optionally a
// random moment later, across its start-up. Every run must end as SIGTERM
// ends it: exit 143, the child (if started) killed by the forwarded SIGTERM.
// A lost SIGTERM leaves PID 1 waiting; the run counts as lost after a
// deadline. package hold documents the mechanism.
//
// TestRescue drives package hold's rescue (a signal in the runtime's own
// window, step 5) by hand, deterministically.
//
// DORIS_ENTRYPOINT_START_SIGNAL_RUNS sets the runs per case (default 1000,
// ~25 s for both on a 2-core VM).
package startsignal

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/internal/harness"
	"golang.org/x/sys/unix"
)

var entrypoint, instant, holdTest string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "startsignal-")
	if err == nil {
		entrypoint, err = harness.Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", harness.EntrypointLDFlags())
	}
	if err == nil {
		instant, err = harness.Build(dir, "github.com/apache/doris-entrypoint/test/startsignal/instant", "instant", "-E main.entry")
	}
	if err == nil {
		holdTest = filepath.Join(dir, "hold.test")
		cmd := exec.Command("go", "test", "-c", "-o", holdTest, "-ldflags", harness.EntrypointLDFlags(), "github.com/apache/doris-entrypoint/supervisor/earlystart/hold")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("go test -c hold: %v\n%s", e, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runs(t *testing.T) int {
	if s := os.Getenv("DORIS_ENTRYPOINT_START_SIGNAL_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("DORIS_ENTRYPOINT_START_SIGNAL_RUNS=%q", s)
		}
		return n
	}
	return 1000
}

func check(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("no entry point on " + runtime.GOARCH + ": a signal before NotifySignals has Go's default effect (package hold)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root for a PID namespace (CI runs as root)")
	}
}

// lostAfter is how long a run may take before its SIGTERM counts as lost: a
// run takes milliseconds; a lost SIGTERM leaves PID 1 waiting for ever.
const lostAfter = 5 * time.Second

// pid1 is one run of the binary as PID 1 of a new PID and mount namespace.
type pid1 struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	log    bytes.Buffer
}

// start runs `instant ns doris-entrypoint args...`: PID 1 is the binary once
// instant has mounted /proc. With readStdout the test reads its stdout.
func start(t *testing.T, readStdout bool, args ...string) *pid1 {
	t.Helper()
	p := &pid1{}
	p.cmd = exec.Command(instant, append([]string{"ns", entrypoint}, args...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	p.cmd.Env = append(os.Environ(), "DORIS_ENTRYPOINT_LOG_FORMAT=json", "DORIS_ENTRYPOINT_STOP_TIMEOUT=10")
	p.cmd.Stderr = &p.log
	if readStdout {
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdout = bufio.NewReader(out)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// result waits for the exit: "" when it ended as SIGTERM ends it, else what
// went wrong.
func (p *pid1) result() string { return p.resultFor(syscall.SIGTERM) }

// resultFor waits for the exit: "" when it ended as sig ends it (128+sig:
// the supervisor's own exit on SIGTERM, or the child's death by the
// forwarded signal), else what went wrong.
func (p *pid1) resultFor(sig syscall.Signal) string {
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(lostAfter):
		p.cmd.Process.Kill() // PID 1: the namespace goes with it
		<-exited
		return fmt.Sprintf("lost: still running after %s", lostAfter)
	}
	if code, want := p.cmd.ProcessState.ExitCode(), 128+int(sig); code != want {
		return fmt.Sprintf("exit %d (%v), want %d", code, p.cmd.ProcessState, want)
	}
	return ""
}

// firstInstant returns once PID 1 runs the binary and has executed its
// first instruction: SIGTERM is blocked or caught (/proc/PID/stat: comm,
// blocked, sigcatch). Before that, no program could keep a signal.
func firstInstant(t *testing.T, pid int) {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	const term = 1 << (syscall.SIGTERM - 1)
	deadline := time.Now().Add(lostAfter)
	for {
		n, err := f.ReadAt(buf, 0)
		if n == 0 {
			t.Fatalf("PID 1 gone before its start: %v", err)
		}
		s := string(buf[:n])
		if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasSuffix(s[:i], "(doris-entrypoin") {
			// Fields from 3 on: state is [0]; blocked is field 32, sigcatch 34.
			if fs := strings.Fields(s[i+1:]); len(fs) > 31 {
				blocked, _ := strconv.ParseUint(fs[32-3], 10, 64)
				caught, _ := strconv.ParseUint(fs[34-3], 10, 64)
				if (blocked|caught)&term != 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("PID 1 never began: %s", s)
		}
	}
}

// spin waits d from t0 without yielding the CPU: the experiment's delay,
// on the scale of microseconds, not a wait for a condition.
func spin(t0 time.Time, d time.Duration) {
	for time.Since(t0) < d {
	}
}

func report(t *testing.T, what string, n int, failures []string) {
	t.Helper()
	t.Logf("%s: %d of %d signals lost", what, len(failures), n)
	for i, f := range failures {
		if i == 5 {
			break
		}
		t.Error(f)
	}
}

// TestTermAtChildsFirstInstant: supervise -- /path starts the child at the
// entry point, before PID 1's runtime; SIGTERM goes to PID 1 the instant the
// child has printed "ready".
func TestTermAtChildsFirstInstant(t *testing.T) {
	check(t)
	n := runs(t)
	var failures []string
	for i := 0; i < n; i++ {
		p := start(t, true, "supervise", "--", instant)
		line, err := p.stdout.ReadString('\n')
		if err == nil && line == "ready\n" {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		if r := p.result(); r != "" || err != nil {
			failures = append(failures, fmt.Sprintf("run %d: %s (stdout %q, %v); log:\n%s", i, r, line, err, p.log.String()))
		}
	}
	report(t, "at the child's first instant", n, failures)
}

// TestTermAtPID1sFirstInstant: SIGTERM goes to PID 1 the instant it has
// begun, on the early path and the ordinary one (the window of fe and be:
// runtime and package initialisation, flags, settings); every other run a
// random moment up to 5 ms later, across its start-up to its handlers.
func TestTermAtPID1sFirstInstant(t *testing.T) {
	check(t)
	n := runs(t)
	var failures []string
	for i := 0; i < n; i++ {
		args := []string{"supervise", "--", instant}
		if i%4 >= 2 {
			args = []string{"supervise", "--log-format", "json", "--", instant} // ordinary path
		}
		var delay time.Duration
		if i%2 == 1 {
			delay = rand.N(5 * time.Millisecond)
		}
		p := start(t, false, args...)
		firstInstant(t, p.cmd.Process.Pid)
		spin(time.Now(), delay)
		p.cmd.Process.Signal(syscall.SIGTERM)
		if r := p.result(); r != "" {
			failures = append(failures, fmt.Sprintf("run %d (%v, +%v): %s; log:\n%s", i, args[1:len(args)-2], delay, r, p.log.String()))
		}
	}
	report(t, "at PID 1's first instant", n, failures)
}

// TestKeptAtPID1sFirstInstant: SIGUSR1, SIGUSR2 and SIGRTMIN+5, which the
// Go runtime's handler drops while it starts, go to PID 1 the instant it has
// begun, and every other run a random moment up to 5 ms later; the child of
// `supervise -- /path` (started at the entry point, there before the signal
// is handled) must die of the forwarded signal.
func TestKeptAtPID1sFirstInstant(t *testing.T) {
	check(t)
	n := runs(t)
	sigs := []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.Signal(39)}
	var failures []string
	for i := 0; i < n; i++ {
		sig := sigs[i%len(sigs)]
		var delay time.Duration
		if i%2 == 1 {
			delay = rand.N(5 * time.Millisecond)
		}
		p := start(t, false, "supervise", "--", instant)
		firstInstant(t, p.cmd.Process.Pid)
		spin(time.Now(), delay)
		p.cmd.Process.Signal(sig)
		if r := p.resultFor(sig); r != "" {
			failures = append(failures, fmt.Sprintf("run %d (%v, +%v): %s; log:\n%s", i, sig, delay, r, p.log.String()))
		}
	}
	report(t, "kept signals at PID 1's first instant", n, failures)
}

// TestChildMask: the child starts with the signal mask PID 1 was given, on
// the early path and the ordinary one, whichever thread starts it, though
// the runtime's threads keep hold.Kept blocked.
func TestChildMask(t *testing.T) {
	check(t)
	const usr2 = 1 << (syscall.SIGUSR2 - 1)
	for _, given := range []uint64{0, usr2} {
		for _, args := range [][]string{
			{"supervise", "--", "/usr/bin/grep", "SigBlk", "/proc/self/status"},
			{"supervise", "--log-format", "json", "--", "/usr/bin/grep", "SigBlk", "/proc/self/status"},
		} {
			for i := 0; i < 20; i++ {
				got := childMask(t, given, args)
				if want := fmt.Sprintf("SigBlk:\t%016x\n", given); got != want {
					t.Fatalf("PID 1 given %#x, %v: the child printed %q, want %q", given, args[1:len(args)-3], got, want)
				}
			}
		}
	}
}

// childMask runs args as PID 1 with the signal mask given and returns what
// the child printed.
func childMask(t *testing.T, given uint64, args []string) string {
	t.Helper()
	cmd := exec.Command(instant, append([]string{"ns", entrypoint}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	cmd.Env = append(os.Environ(), "DORIS_ENTRYPOINT_LOG_FORMAT=json")
	var out, log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &log
	// ForkExec passes the calling thread's mask on.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	set := unix.Sigset_t{Val: [16]uint64{given}}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		t.Fatal(err)
	}
	err := cmd.Start()
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v; log:\n%s", args, err, log.String())
	}
	return out.String()
}

// TestRescue runs package hold's rescue tests linked with the entry point:
// a SIGTERM that reaches the runtime's handler before hold's init
// (TestRescue), or that the runtime raises again on its own thread after
// init (TestRescueAfterInit, dieFromSignal's raise), re-executes the process
// with the signal still held, the child record, the mask and the environment
// intact.
func TestRescue(t *testing.T) {
	check(t)
	for _, name := range []string{"TestRescue", "TestRescueAfterInit"} {
		out, err := exec.Command(holdTest, "-test.run", "^"+name+"$", "-test.v").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rescued") {
			t.Errorf("hold's %s: %v\n%s", name, err, out)
		}
	}
}
