// Package harness runs the built doris-entrypoint binary for black-box tests:
// as PID 1 of a fresh PID namespace (unshare --pid --fork --mount-proc) or as
// an ordinary process (where it must become a subreaper), with its log
// captured and an event socket on which helper processes report.
package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/testport"
)

// EntrypointLDFlags are the link flags of the production binary that change
// behaviour (the Makefile's, without stamping and stripping): on amd64 the
// early-start entry point.
func EntrypointLDFlags() string {
	if runtime.GOARCH == "amd64" {
		return "-E github.com/apache/doris-entrypoint/supervisor/earlystart.entry"
	}
	return ""
}

// Build compiles the Go package pkg (an import path) into dir with the given
// -ldflags and returns the binary's path.
func Build(dir, pkg, name, ldflags string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// BuildBinaries builds doris-entrypoint (with the production link flags)
// and the test helper into dir.
func BuildBinaries(dir string) (entrypoint, helper string, err error) {
	entrypoint, err = Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", EntrypointLDFlags())
	if err == nil {
		helper, err = Build(dir, "github.com/apache/doris-entrypoint/test/helper", "helper", "")
	}
	return entrypoint, helper, err
}

// Main builds the binaries into a temporary directory, sets *entrypoint and
// *helper, runs the tests and cleans up: the TestMain of black-box packages.
func Main(m *testing.M, entrypoint, helper *string) {
	dir, err := os.MkdirTemp("", "doris-entrypoint-test-")
	if err == nil {
		*entrypoint, *helper, err = BuildBinaries(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Events collects the lines helpers send to a unix socket.
type Events struct {
	Path string

	ln      net.Listener
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

// NewEvents listens on a fresh socket; it is closed at test cleanup.
func NewEvents(t testing.TB) *Events {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("events socket: %v", err)
	}
	e := &Events{Path: path, ln: ln, changed: make(chan struct{})}
	go e.accept()
	t.Cleanup(func() { ln.Close() })
	return e
}

func (e *Events) accept() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				e.mu.Lock()
				e.lines = append(e.lines, sc.Text())
				close(e.changed)
				e.changed = make(chan struct{})
				e.mu.Unlock()
			}
		}()
	}
}

// Env returns the environment entry that points helpers at e.
func (e *Events) Env() string { return "HELPER_EVENTS=" + e.Path }

// Lines returns every line received so far.
func (e *Events) Lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.lines...)
}

// Count returns how many lines received so far start with prefix.
func (e *Events) Count(prefix string) int {
	n := 0
	for _, l := range e.Lines() {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// CountExact returns how many lines received so far equal line.
func (e *Events) CountExact(line string) int {
	n := 0
	for _, l := range e.Lines() {
		if l == line {
			n++
		}
	}
	return n
}

// Has reports whether a line starting with prefix arrived.
func (e *Events) Has(prefix string) bool { return e.Count(prefix) > 0 }

// WaitN waits until n lines starting with prefix have arrived and returns the
// first of them; it fails the test at the deadline.
func (e *Events) WaitN(t testing.TB, prefix string, n int, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		var first string
		count := 0
		for _, l := range e.lines {
			if strings.HasPrefix(l, prefix) {
				if count == 0 {
					first = l
				}
				count++
			}
		}
		ch := e.changed
		e.mu.Unlock()
		if count >= n {
			return first
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("waited %s for %d event(s) %q, got %d; all events:\n%s", timeout, n, prefix, count, strings.Join(e.Lines(), "\n"))
		}
	}
}

// Wait waits for one line starting with prefix.
func (e *Events) Wait(t testing.TB, prefix string, timeout time.Duration) string {
	t.Helper()
	return e.WaitN(t, prefix, 1, timeout)
}

// Options says how to run the binary.
type Options struct {
	Bin  string   // the doris-entrypoint binary
	Args []string // its arguments
	// PID1 runs it as PID 1 of a new PID namespace with its own /proc.
	PID1 bool
	// Env is added to the test's environment, after
	// DORIS_ENTRYPOINT_PROBE_ADDR=127.0.0.1:0: tests running side by side
	// must not fight for the default :8099 (the bound port is in the log
	// and in $DORIS_ROOT/.doris-entrypoint/probe.addr).
	Env []string
	Dir string
	// Stdout receives the process's stdout (and so the child's); default: the log buffer.
	Stdout     *os.File
	ExtraFiles []*os.File
	Argv0      string // when set, run through a symlink of this name
	// ServiceAccount, with PID1, is a directory (token, ca.crt, namespace)
	// mounted where kubelet mounts a pod's service account
	// (/var/run/secrets/kubernetes.io/serviceaccount), on a tmpfs over /run
	// in the namespace's own mounts: the binary finds the API as in a pod
	// (test/fakekube.StartTLS).
	ServiceAccount string
}

// Proc is a running doris-entrypoint.
type Proc struct {
	cmd  *exec.Cmd
	pid  int // the supervisor's pid in the test's namespace
	log  *syncBuffer
	done chan struct{}
	code int
}

// Start runs the binary; it is killed with its whole tree at test cleanup if
// still running.
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	bin := o.Bin
	if o.Argv0 != "" {
		link := filepath.Join(t.TempDir(), o.Argv0)
		if err := os.Symlink(o.Bin, link); err != nil {
			t.Fatal(err)
		}
		bin = link
	}
	argv := append([]string{bin}, o.Args...)
	if o.PID1 && o.ServiceAccount != "" {
		// sh is PID 1 until its exec: the binary then is PID 1.
		const mountSA = `mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && ` +
			`cp "$0"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"`
		argv = append([]string{"sh", "-c", mountSA, o.ServiceAccount}, argv...)
	}
	if o.PID1 {
		argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "DORIS_ENTRYPOINT_PROBE_ADDR=127.0.0.1:0"), o.Env...)
	cmd.Dir = o.Dir
	p := &Proc{cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.log
	if o.Stdout != nil {
		cmd.Stdout = o.Stdout
	} else {
		cmd.Stdout = p.log
	}
	cmd.ExtraFiles = o.ExtraFiles
	// Leftover processes holding the log pipe must not block Wait forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		err := cmd.Wait()
		p.code = exitCode(cmd.ProcessState, err)
		close(p.done)
	}()
	p.pid = cmd.Process.Pid
	if o.PID1 {
		p.pid = p.waitChildOf(t, cmd.Process.Pid)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		killTree(p.pid)
		<-p.done
		t.Logf("killed at cleanup; log:\n%s", p.log.String())
	})
	return p
}

// waitChildOf returns unshare's child, which is the supervisor.
func (p *Proc) waitChildOf(t testing.TB, parent int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	file := fmt.Sprintf("/proc/%d/task/%d/children", parent, parent)
	for {
		b, err := os.ReadFile(file)
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		select {
		case <-p.done:
			t.Fatalf("unshare exited (%d) before starting the supervisor:\n%s", p.code, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no child of unshare (%d) after 10s", parent)
		}
		time.Sleep(time.Millisecond)
	}
}

// PID is the supervisor's pid as the test sees it.
func (p *Proc) PID() int { return p.pid }

// Signal sends sig to the supervisor.
func (p *Proc) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(p.pid, sig); err != nil {
		t.Fatalf("signal %v to %d: %v; log:\n%s", sig, p.pid, err, p.log.String())
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the exit and returns the exit code (128+signal if killed).
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("still running after %s; log:\n%s", timeout, p.log.String())
		return -1
	}
}

// Log returns everything written to stderr (and stdout unless redirected).
func (p *Proc) Log() string { return p.log.String() }

// Entry is one JSON log line of the supervisor.
type Entry map[string]any

// Msg returns the log message.
func (e Entry) Msg() string { s, _ := e["msg"].(string); return s }

// Time returns the timestamp.
func (e Entry) Time() time.Time {
	s, _ := e["ts"].(string)
	ts, _ := time.Parse(time.RFC3339Nano, s)
	return ts
}

// Entries parses the JSON lines of the log; other lines (the child's) are skipped.
func (p *Proc) Entries() []Entry {
	var out []Entry
	for _, line := range strings.Split(p.log.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e Entry
		if json.Unmarshal([]byte(line), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the log entries with message msg.
func (p *Proc) Find(msg string) []Entry {
	var out []Entry
	for _, e := range p.Entries() {
		if e.Msg() == msg {
			out = append(out, e)
		}
	}
	return out
}

// WaitLog waits until the log has a line with message msg, e.g. "child
// started", which the supervisor writes once its signal handlers are in
// place (a child started at the entry point may be running before that).
func (p *Proc) WaitLog(t testing.TB, msg string, timeout time.Duration) Entry {
	t.Helper()
	return p.WaitLogN(t, msg, 1, timeout)
}

// WaitLogN waits until the log has n lines with message msg and returns the
// first.
func (p *Proc) WaitLogN(t testing.TB, msg string, n int, timeout time.Duration) Entry {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if e := p.Find(msg); len(e) >= n {
			return e[0]
		}
		select {
		case <-p.done:
			t.Fatalf("exited (%d) before logging %q %d times; log:\n%s", p.code, msg, n, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d %q in the log after %s; log:\n%s", n, msg, timeout, p.Log())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// killTree SIGKILLs pid and every descendant found in /proc.
func killTree(pid int) {
	for _, d := range Descendants(pid) {
		syscall.Kill(d, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// Descendants lists the pids below pid in the test's /proc.
func Descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	kids := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := bytes.Fields(b[i+1:])
		if i < 0 || len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(string(f[1]))
		kids[pp] = append(kids[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		out = append(out, kids[q]...)
		queue = append(queue, kids[q]...)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// FreePort is testport.Free: a free port (and port+offset), reserved
// across the test processes.
func FreePort(t testing.TB, offset int) int { return testport.Free(t, offset) }

// WaitFor polls cond every few milliseconds until it holds, and fails the
// test with what when timeout passes first.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
