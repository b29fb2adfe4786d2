package supervisor

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/sigfwd"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"300", 300 * time.Second, false},
		{" 30 ", 30 * time.Second, false},
		{"5m", 5 * time.Minute, false},
		{"1.5s", 1500 * time.Millisecond, false},
		{"0", 0, true},
		{"-5s", 0, true},
		{"", 0, true},
		{"5 minutes", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSignalName(t *testing.T) {
	tests := map[syscall.Signal]string{
		unix.SIGTERM: "SIGTERM", unix.SIGWINCH: "SIGWINCH",
		34: "SIGRTMIN", 35: "SIGRTMIN+1", 64: "SIGRTMIN+30",
	}
	for sig, want := range tests {
		if got := signalName(sig); got != want {
			t.Errorf("signalName(%d) = %q, want %q", sig, got, want)
		}
	}
}

func TestForwardedSignals(t *testing.T) {
	got := map[syscall.Signal]bool{}
	for _, s := range ForwardedSignals() {
		got[s] = true
	}
	for _, s := range []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, 34, 50, 64} {
		if !got[s] {
			t.Errorf("%v not forwarded", s)
		}
	}
	for _, s := range []syscall.Signal{unix.SIGCHLD, unix.SIGKILL, unix.SIGSTOP, unix.SIGTSTP, unix.SIGPIPE} {
		if got[s] {
			t.Errorf("%v must not be forwarded", s)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want int
	}{
		{0, 0},
		{unix.WaitStatus(3 << 8), 3},
		{unix.WaitStatus(255 << 8), 255},
		{unix.WaitStatus(unix.SIGTERM), 143},
		{unix.WaitStatus(unix.SIGKILL), 137},
		{unix.WaitStatus(unix.SIGSEGV | 0x80), 139}, // core dumped
	}
	for _, tt := range tests {
		if got := exitCode(tt.ws); got != tt.want {
			t.Errorf("exitCode(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

// writeStat fakes /proc/<pid>/stat.
func writeStat(t *testing.T, dir string, pid int, comm string, state byte, ppid, pgid int) {
	t.Helper()
	p := filepath.Join(dir, strconv.Itoa(pid))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	line := strconv.Itoa(pid) + " (" + comm + ") " + string(state) + " " + strconv.Itoa(ppid) + " " + strconv.Itoa(pgid) + " 0 0 0\n"
	if err := os.WriteFile(filepath.Join(p, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDescendants(t *testing.T) {
	dir := t.TempDir()
	writeStat(t, dir, 1, "doris-entrypoint", 'S', 0, 1)
	writeStat(t, dir, 10, "start_fe.sh", 'S', 1, 10)
	writeStat(t, dir, 11, "java) S 1 1 (evil", 'S', 10, 10) // hostile comm
	writeStat(t, dir, 12, "sleep", 'Z', 11, 10)
	writeStat(t, dir, 20, "bash", 'S', 0, 20) // kubectl exec: parent outside the namespace
	writeStat(t, dir, 21, "sleep", 'S', 20, 20)
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := descendants(dir, 1)
	var pids []int
	for _, d := range got {
		pids = append(pids, d.pid)
		if d.pid == 11 && (d.ppid != 10 || d.pgid != 10) {
			t.Errorf("hostile comm misparsed: %+v", d)
		}
		if d.pid == 12 && !d.zombie {
			t.Errorf("zombie not seen: %+v", d)
		}
	}
	sort.Ints(pids)
	if want := []int{10, 11, 12}; !equal(pids, want) {
		t.Fatalf("descendants = %v, want %v", pids, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExecCode(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  Command
		want int
	}{
		{Command{Path: "definitely-not-a-program-xyz"}, ExitNotFound},
		{Command{Path: filepath.Join(dir, "missing")}, ExitNotFound},
		{Command{Path: "./missing", Dir: dir}, ExitNotFound},
		{Command{Path: plain}, ExitNotExecutable},
		{Command{Path: dir}, ExitNotExecutable},
	}
	for _, tt := range tests {
		_, err := tt.cmd.resolve()
		if err == nil {
			t.Fatalf("resolve(%q) succeeded", tt.cmd.Path)
		}
		if got := execCode(err); got != tt.want {
			t.Errorf("execCode for %q = %d, want %d (%v)", tt.cmd.Path, got, tt.want, err)
		}
	}
}

// newTestSupervisor builds a supervisor whose signals the test injects.
func newTestSupervisor(t *testing.T, timeout time.Duration) (*Supervisor, chan<- sigfwd.Event, *observer.ObservedLogs) {
	t.Helper()
	events := make(chan sigfwd.Event, 8)
	sigs := &Signals{events: events, setTarget: func(int) {}, child: make(chan os.Signal, 1)}
	sigs.sync = func() { events <- sigfwd.Event{} }
	signal.Notify(sigs.child, unix.SIGCHLD)
	core, logs := observer.New(zap.InfoLevel)
	s, err := New(Config{Signals: sigs, Logger: zap.New(core), StopTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); signal.Stop(sigs.child) })
	return s, events, logs
}

// A SIGTERM that arrives before the child starts is kept: the child is never
// started and the exit code is 143.
func TestTermBeforeStart(t *testing.T) {
	s, events, logs := newTestSupervisor(t, time.Second)
	events <- sigfwd.Event{Signal: unix.SIGTERM}
	<-s.StopRequested()
	marker := filepath.Join(t.TempDir(), "started")
	code := s.Run(context.Background(), Command{Path: "/bin/sh", Args: []string{"-c", "touch " + marker}})
	if code != 143 {
		t.Fatalf("Run = %d, want 143", code)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("child was started after SIGTERM")
	}
	if logs.FilterMessage("stop requested before the child started: not starting it").Len() != 1 {
		t.Fatalf("missing log line; got %v", logs.All())
	}
}

// Cancelling the context stops the child like SIGTERM.
func TestContextCancelStops(t *testing.T) {
	s, _, logs := newTestSupervisor(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := s.Start(Command{Path: "/bin/sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() { done <- s.Wait(ctx, c) }()
	cancel()
	select {
	case code := <-done:
		if code != 143 {
			t.Fatalf("Wait = %d, want 143", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after cancel")
	}
	if logs.FilterMessage("stop requested").Len() != 1 {
		t.Fatalf("want one 'stop requested'; got %v", logs.All())
	}
}
