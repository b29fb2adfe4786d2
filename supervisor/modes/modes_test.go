package modes_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/modes/holder"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/testport"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The fake component is this test binary, run again by the supervisor with
// these variables set (see TestMain and fakeComponent).
const (
	envChildConf = "MODES_TEST_CHILD_CONF" // the conf whose query_port it listens on
	envChildLog  = "MODES_TEST_CHILD_LOG"  // where it appends "start PID ARGS..." and "term PID"
	envChildExit = "MODES_TEST_CHILD_EXIT" // set: exit with this code once listening
)

// greeting is what the fake component sends on its query_port, to tell it
// from the debug-mode holder (which sends a MySQL ERR packet).
const greeting = "fake-fe\n"

const (
	offset  = 10000 // DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET
	timeout = 20 * time.Second
)

func TestMain(m *testing.M) {
	if conf := os.Getenv(envChildConf); conf != "" {
		os.Exit(fakeComponent(conf))
	}
	os.Exit(m.Run())
}

// fakeComponent stands in for start_fe.sh --console: it listens on the
// conf's query_port (all addresses, as the FE does), records its start, and
// on SIGTERM stops listening, records that and exits 143, as the FE's JVM
// does.
func fakeComponent(conf string) int {
	record := func(format string, args ...any) {
		f, err := os.OpenFile(os.Getenv(envChildLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return
		}
		fmt.Fprintf(f, format+"\n", args...)
		f.Close()
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	data, err := os.ReadFile(conf)
	if err != nil {
		record("error %v", err)
		return 1
	}
	port, err := confpatch.PortValue(data, cluster.FE.Liveness)
	if err != nil {
		record("error %v", err)
		return 1
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		record("error %v", err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greeting))
			c.Close()
		}
	}()
	record("start %d %s", os.Getpid(), strings.Join(os.Args[1:], " "))
	if v := os.Getenv(envChildExit); v != "" {
		code, _ := strconv.Atoi(v)
		return code
	}
	<-term
	ln.Close()
	record("term %d", os.Getpid())
	return 128 + int(syscall.SIGTERM)
}

// The supervisor's signal intake can be installed once per process; every
// test's supervisor shares it, one at a time: each is closed at the end of
// its test, and no test here runs in parallel. A supervisor makes the test
// process a child subreaper and reaps every child with wait4(-1), so no
// test in this package may start a process other than through it (no
// os/exec): its exit status would be taken.
var (
	sigsOnce sync.Once
	sigs     *supervisor.Signals
	sigsErr  error
)

// confText is a fake fe.conf with what must survive debug mode byte for
// byte: comments naming the keys, backticks, ${VAR}, a quoted value with
// '=', trailing blanks, a CRLF line, and no final newline.
const confText = "# query_port = 1 (a comment, not a setting)\n" +
	"CUR_DATE=`date +%%Y%%m%%d-%%H%%M%%S`\n" +
	"LOG_DIR = ${DORIS_HOME}/log\n" +
	"JAVA_OPTS=\"-Xmx1g -Da=b -XX:HeapDumpPath=$LOG_DIR\"\n" +
	"\n" +
	"http_port = %d   \n" +
	"query_port=%d\r\n" +
	"edit_log_port = 9010\n" +
	"enable_fqdn_mode = true"

// rig is one machine under test: a real supervisor, a fake FE in a temp
// DORIS_ROOT, a downward-API directory written the way kubelet writes it.
type rig struct {
	t                              *testing.T
	dir, conf, podinfo, log, state string
	orig                           []byte
	queryPort, httpPort            int
	// wantOffset is the offset debug mode should choose: the configured
	// one, or (anyOther) any other.
	wantOffset                       int
	sup                              *supervisor.Supervisor
	logs                             *observer.ObservedLogs
	cancel                           context.CancelFunc
	done                             chan int
	rec                              recorder
	bootstrapCalls                   atomic.Int32
	bootstrapStarted, bootstrapEnded chan error
}

// recorder keeps the states and events the machine publishes; wake is
// closed (and replaced) at each one, for waiters.
type recorder struct {
	mu     sync.Mutex
	states []modes.State
	events []string // reasons
	seen   int      // states consumed by waitState
	wake   chan struct{}
}

func (r *recorder) add(st *modes.State, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st != nil {
		r.states = append(r.states, *st)
	}
	if reason != "" {
		r.events = append(r.events, reason)
	}
	close(r.wake)
	r.wake = make(chan struct{})
}

type options struct {
	debugAtStart bool   // the annotation is set before Run
	crashed      bool   // a supervisor killed in debug mode left the conf patched
	cancelled    bool   // Run's ctx is cancelled before Run
	exitCode     string // the child exits with it on its own
	bootstrap    bool   // Bootstrap blocks until cancelled the first time
	prepareErr   error  // what Prepare returns
	// restoreBlocked: the conf cannot be restored at start (after crashed).
	restoreBlocked bool
	// collide: the conf sets a port where the moved http_port would land.
	collide bool
	// highHTTP: http_port 60000, which the configured offset would move
	// past 65535 (issue 23's repro).
	highHTTP bool
	// span: query_port 65535 and http_port 1: no offset works.
	span bool
	// crashOffset: the crash left the conf moved by this offset (0: the
	// configured one), which the variable no longer says.
	crashOffset int
}

// anyOther is a rig's wantOffset when the configured offset cannot work.
const anyOther = -1

func newRig(t *testing.T, o options) *rig {
	t.Helper()
	sigsOnce.Do(func() { sigs, sigsErr = supervisor.NotifySignals() })
	if sigsErr != nil {
		t.Fatal(sigsErr)
	}
	dir := t.TempDir()
	r := &rig{
		t: t, dir: dir,
		conf:             filepath.Join(dir, "fe", "conf", "fe.conf"),
		podinfo:          filepath.Join(dir, "podinfo"),
		log:              filepath.Join(dir, "child.log"),
		state:            filepath.Join(dir, ".doris-entrypoint", "state.json"),
		queryPort:        testport.Free(t, offset),
		httpPort:         testport.Free(t, offset),
		wantOffset:       offset,
		done:             make(chan int, 1),
		bootstrapStarted: make(chan error, 4),
		bootstrapEnded:   make(chan error, 4),
	}
	r.rec.wake = make(chan struct{})
	switch {
	case o.highHTTP:
		r.httpPort, r.wantOffset = 60000, anyOther
	case o.span:
		r.queryPort, r.httpPort = 65535, 1
		if ln, err := net.Listen("tcp", ":65535"); err != nil {
			t.Skipf("port 65535 is in use: %v", err)
		} else {
			ln.Close()
		}
	}
	r.orig = []byte(fmt.Sprintf(confText, r.httpPort, r.queryPort))
	if o.collide {
		r.orig = append(r.orig, fmt.Sprintf("\nrpc_port = %d\n", r.httpPort+offset)...)
		r.wantOffset = anyOther
	}
	if err := os.MkdirAll(filepath.Dir(r.conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.conf, r.orig, 0o640); err != nil {
		t.Fatal(err)
	}
	if o.crashed {
		if _, err := confpatch.Enter(r.conf, cluster.FE.DebugPorts(), cmp.Or(o.crashOffset, offset)); err != nil {
			t.Fatal(err)
		}
		if o.crashOffset != 0 {
			// Edited before the crash: the restore merges it back with
			// the marker's offset, so the edit stays.
			editInDebug(r)
		}
	}
	if o.restoreBlocked {
		blockRestore(r)
	}
	r.writeAnnotations(o.debugAtStart)

	core, logs := observer.New(zap.DebugLevel)
	r.logs = logs
	log := zap.New(core)
	sup, err := supervisor.New(supervisor.Config{Signals: sigs, Logger: log.Named("supervisor"), StopTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	r.sup = sup
	t.Cleanup(sup.Close)

	wctx, wcancel := context.WithCancel(context.Background())
	t.Cleanup(wcancel)
	watcher := podinfo.Watch(wctx, podinfo.WatchConfig{Dir: r.podinfo, Debounce: 5 * time.Millisecond})

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), envChildConf+"="+r.conf, envChildLog+"="+r.log)
	if o.exitCode != "" {
		env = append(env, envChildExit+"="+o.exitCode)
	}
	comp := modes.Component{
		Name:    "fe",
		Command: supervisor.Command{Path: self, Args: []string{"--console"}, Dir: dir, Env: env},
		Conf:    r.conf,
		Ports:   cluster.FE.DebugPorts(),
		Listens: cluster.FE.Listens,
		Hold:    holder.MySQL,
		PIDFile: filepath.Join(dir, "fe", "bin", "fe.pid"),
		Prepare: func() error { return o.prepareErr },
	}
	if o.bootstrap {
		comp.Bootstrap = func(ctx context.Context, _ podinfo.State) ([]string, error) {
			if r.bootstrapCalls.Add(1) > 1 {
				return []string{"--helper", "fe-0:9010"}, nil
			}
			r.bootstrapStarted <- nil
			<-ctx.Done()
			r.bootstrapEnded <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	cfg := modes.Config{
		Supervisor: sup,
		Podinfo:    watcher,
		Component:  comp,
		Offset:     offset,
		StateFile:  r.state,
		OnState:    func(st modes.State) { r.rec.add(&st, "") },
		Event:      func(_, reason, _ string) { r.rec.add(nil, reason) },
		Logger:     log.Named("modes"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if o.cancelled {
		cancel()
	}
	go func() { r.done <- modes.Run(ctx, cfg) }()
	// Registered last, so it runs first: a test that failed half-way still
	// stops its machine (and its child) before the supervisor is closed.
	t.Cleanup(func() {
		cancel()
		if !r.returned(timeout) {
			sup.RequestStop("test cleanup") // in case ctx does not work
			if !r.returned(timeout) {
				t.Errorf("Run did not return after the test")
			}
		}
		if t.Failed() {
			r.dump()
		}
	})
	return r
}

// dump logs what helps to understand a failure.
func (r *rig) dump() {
	r.t.Helper()
	for _, e := range r.logs.All() {
		r.t.Logf("log: %s %s %v", e.LoggerName, e.Message, e.ContextMap())
	}
	b, _ := os.ReadFile(r.log)
	r.t.Logf("child log:\n%s", b)
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	for _, st := range r.rec.states {
		r.t.Logf("state: %s/%s pid %d restarts %d problem %q", st.Mode, st.Phase, st.ChildPID, st.Restarts, st.Problem)
	}
	r.t.Logf("events: %v", r.rec.events)
}

func (r *rig) writeAnnotations(debug bool) {
	r.t.Helper()
	ann := map[string]string{"doris.test/fixture": "1"}
	if debug {
		ann[podinfo.KeyRunmode] = "debug"
	}
	if err := podinfotest.Write(r.podinfo, ann, nil); err != nil {
		r.t.Fatal(err)
	}
}

// waitState waits for a state published after the last one waitState
// returned that satisfies ok, and returns it.
func (r *rig) waitState(what string, ok func(modes.State) bool) modes.State {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.rec.mu.Lock()
		for i := r.rec.seen; i < len(r.rec.states); i++ {
			if st := r.rec.states[i]; ok(st) {
				r.rec.seen = i + 1
				r.rec.mu.Unlock()
				return st
			}
		}
		wake := r.rec.wake
		r.rec.mu.Unlock()
		select {
		case <-wake:
		case code := <-r.done:
			r.done <- code
			r.t.Fatalf("Run returned %d while waiting for %s", code, what)
		case <-deadline.C:
			r.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// waitFor polls cond, for what the machine does not publish (a process
// outside the test binary's goroutines: the child, the kernel's sockets).
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// retries counts the restores retried so far.
func (r *rig) retries() int { return r.logs.FilterMessage("conf restore retried").Len() }

// records returns the lines of the child log that begin with word.
func (r *rig) records(word string) []string {
	b, _ := os.ReadFile(r.log)
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), word+" ") {
			out = append(out, sc.Text())
		}
	}
	return out
}

// answer dials port and returns what the server sends before it closes.
func answer(port int) (string, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// running waits until the nth child runs on the original query_port, with
// the conf restored byte for byte.
func (r *rig) running(n int) {
	r.t.Helper()
	r.waitState(fmt.Sprintf("running (start %d)", n), func(st modes.State) bool {
		return st.Mode == "normal" && st.Phase == modes.PhaseRunning && st.Restarts == n-1
	})
	r.waitFor(fmt.Sprintf("child %d listening", n), func() bool { return len(r.records("start")) >= n })
	if got, err := answer(r.queryPort); err != nil || got != greeting {
		r.t.Fatalf("query_port %d answers %q, %v; want the child's %q", r.queryPort, got, err, greeting)
	}
	r.confOriginal()
}

// inDebug waits for debug mode and checks (3)-(5): the ports moved by the
// offset with a marker, the liveness port held with a MySQL error, no child.
func (r *rig) inDebug() modes.State {
	r.t.Helper()
	st := r.waitState("debug mode", func(st modes.State) bool {
		return st.Mode == "debug" && st.Phase == modes.PhaseDebug
	})
	if st.Problem != "" || st.ChildPID != 0 {
		r.t.Fatalf("debug state: problem %q, child %d", st.Problem, st.ChildPID)
	}
	off := r.wantOffset
	if off == anyOther {
		if st.Offset == offset || st.Offset == 0 {
			r.t.Fatalf("debug mode moved the ports by %d, want another offset than the configured %d", st.Offset, offset)
		}
		off = st.Offset
	}
	if st.Offset != off {
		r.t.Fatalf("state offset %d, want %d", st.Offset, off)
	}
	if ms, err := confpatch.ReadState(r.conf); err != nil || ms.Offset != off {
		r.t.Fatalf("marker offset %d, %v; want %d", ms.Offset, err, off)
	}
	want := []confpatch.Moved{{Key: "query_port", From: r.queryPort, To: r.queryPort + off}, {Key: "http_port", From: r.httpPort, To: r.httpPort + off}}
	if fmt.Sprint(st.Ports) != fmt.Sprint(want) {
		r.t.Fatalf("moved ports %v, want %v", st.Ports, want)
	}
	data, err := os.ReadFile(r.conf)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mv := range want {
		if v, _ := confpatch.Value(data, mv.Key); v != strconv.Itoa(mv.To) {
			r.t.Fatalf("conf in debug mode: %s = %q, want %d", mv.Key, v, mv.To)
		}
	}
	if !confpatch.HasMarker(r.conf) {
		r.t.Fatal("debug mode without a marker")
	}
	got, err := answer(r.queryPort)
	if err != nil || len(got) < 5 || got[4] != 0xff || !strings.Contains(got, "debug mode") {
		r.t.Fatalf("liveness port %d in debug mode answers %q, %v; want a MySQL ERR packet", r.queryPort, got, err)
	}
	if starts, terms := len(r.records("start")), len(r.records("term")); starts != terms {
		r.t.Fatalf("debug mode with a child running: %d starts, %d stops", starts, terms)
	}
	return st
}

// confOriginal checks that the conf is the original, byte for byte, and
// that no marker is left.
func (r *rig) confOriginal() {
	r.t.Helper()
	got, err := os.ReadFile(r.conf)
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.Equal(got, r.orig) {
		r.t.Fatalf("conf not restored byte for byte:\n got %q\nwant %q", got, r.orig)
	}
	if fi, err := os.Stat(r.conf); err != nil || fi.Mode().Perm() != 0o640 {
		r.t.Fatalf("conf mode %v, %v; want 0640", fi.Mode(), err)
	}
	if confpatch.HasMarker(r.conf) {
		r.t.Fatal("marker left behind")
	}
}

// result waits for Run to return, and returns its exit code.
func (r *rig) result() int {
	r.t.Helper()
	if !r.returned(timeout) {
		r.t.Fatalf("Run did not return within %s", timeout)
	}
	code := <-r.done
	r.done <- code
	return code
}

// returned waits up to d for Run to return.
func (r *rig) returned(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case code := <-r.done:
		r.done <- code
		return true
	case <-t.C:
		return false
	}
}

// step is one thing a scenario does or checks while the machine runs.
type step func(r *rig)

var (
	runs = func(n int) step { return func(r *rig) { r.running(n) } }
	// debugged checks debug mode; lastExit is the exit code the state
	// reports of the child stopped on the way in (0: none ran).
	debugged = func(lastExit int) step {
		return func(r *rig) {
			st := r.inDebug()
			if lastExit == 0 && st.LastExit != nil || lastExit != 0 && (st.LastExit == nil || *st.LastExit != lastExit) {
				r.t.Fatalf("debug state: last exit %v, want %d", st.LastExit, lastExit)
			}
		}
	}
	setDebug   step = func(r *rig) { r.writeAnnotations(true) }
	setNormal  step = func(r *rig) { r.writeAnnotations(false) }
	stopReq    step = func(r *rig) { r.sup.RequestStop("test") }
	cancelCtx  step = func(r *rig) { r.cancel() }
	bootstraps step = func(r *rig) {
		select {
		case <-r.bootstrapStarted:
		case <-time.After(timeout):
			r.t.Fatal("Bootstrap not called")
		}
	}
	// bootstrapCancelled checks that the Bootstrap's ctx ended and that it
	// returned before the machine went on.
	bootstrapCancelled step = func(r *rig) {
		select {
		case err := <-r.bootstrapEnded:
			if !errors.Is(err, context.Canceled) {
				r.t.Fatalf("Bootstrap ctx ended with %v", err)
			}
		default:
			r.t.Fatal("the machine went on before Bootstrap returned")
		}
	}
	// handStarted holds the moved query_port as a server started by hand
	// with `debug run` would, asks to leave debug mode, and checks that the
	// machine waits for it (6) before it restores the conf (7).
	handStarted step = func(r *rig) {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(r.queryPort+offset))
		if err != nil {
			r.t.Fatal(err)
		}
		defer ln.Close()
		r.writeAnnotations(false)
		r.waitFor("the wait for the hand-started server", func() bool {
			return r.logs.FilterMessage("waiting for the hand-started component to exit before leaving debug mode").Len() > 0
		})
		if !confpatch.HasMarker(r.conf) || len(r.records("start")) != 0 {
			r.t.Fatal("left debug mode while a hand-started server held a moved port")
		}
	}
	// blockRestore makes the conf impossible to restore, as a full disk
	// does: a non-empty directory where the conf is renamed back.
	blockRestore step = func(r *rig) {
		if err := os.Remove(r.conf); err != nil {
			r.t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(r.conf, "in-the-way"), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	unblockRestore step = func(r *rig) {
		if err := os.RemoveAll(r.conf); err != nil {
			r.t.Fatal(err)
		}
	}
	// restoreFails checks that a conf that cannot be restored keeps the pod
	// in debug mode, the reason published, the liveness port held and the
	// child not started, across a few retries.
	restoreFails step = func(r *rig) {
		st := r.waitState("debug mode with the restore failing", func(st modes.State) bool {
			return st.Mode == "debug" && st.Phase == modes.PhaseDebug && strings.Contains(st.Problem, "conf not restored")
		})
		if !strings.Contains(st.Problem, "starts only once the restore works") {
			r.t.Fatalf("problem %q does not say what happens", st.Problem)
		}
		r.waitFor("a retry", func() bool { return r.retries() >= 2 })
		if got, err := answer(r.queryPort); err != nil || !strings.Contains(got, "debug mode") {
			r.t.Fatalf("liveness port %d not held while the restore fails: %q, %v", r.queryPort, got, err)
		}
		if n := len(r.records("start")) - len(r.records("term")); n != 0 {
			r.t.Fatalf("the child started with the conf not restored")
		}
	}
	// editInDebug edits the conf in debug mode as a person debugging would:
	// the edit is kept on leaving, so it becomes the expected conf.
	editInDebug step = func(r *rig) {
		data, err := os.ReadFile(r.conf)
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(r.conf, append(data, "\nsys_log_level = DEBUG\n"...), 0o640); err != nil {
			r.t.Fatal(err)
		}
		r.orig = append(r.orig, "\nsys_log_level = DEBUG\n"...)
	}
	// editReported checks that the kept edit is in the state.
	editReported step = func(r *rig) {
		st := r.waitState("the kept edit in the state", func(st modes.State) bool { return st.Restored != "" })
		if !strings.Contains(st.Restored, "was edited in debug mode: the edit is kept") {
			r.t.Fatalf("state says %q about the edit", st.Restored)
		}
	}
	// restoredByNextStart waits for Run to return with the conf still not
	// restorable, then restores it as the next start's (1) does.
	restoredByNextStart step = func(r *rig) {
		r.result()
		if !confpatch.HasMarker(r.conf) {
			r.t.Fatal("no marker left for the next start")
		}
		unblockRestore(r)
		if ok, err := confpatch.Restore(r.conf); !ok || err != nil {
			r.t.Fatalf("restore at the next start: %v, %v", ok, err)
		}
	}
	// refused checks that debug mode was refused (2): the child runs on,
	// normal mode, the reason in the state, the conf untouched.
	refused step = func(r *rig) {
		st := r.waitState("debug mode refused", func(st modes.State) bool {
			return st.Mode == "normal" && st.Phase == modes.PhaseRunning && st.Problem != ""
		})
		for _, want := range []string{"debug mode refused: DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET 10000 moves query_port 65535 to 75535, outside 1..65535",
			"the FE keeps running in normal mode with the annotation " + podinfo.KeyRunmode + "=debug still set"} {
			if !strings.Contains(st.Problem, want) {
				r.t.Fatalf("refused state: problem %q, want %q", st.Problem, want)
			}
		}
		r.waitFor("the child listening", func() bool { return len(r.records("start")) > 0 })
		if got, err := answer(r.queryPort); err != nil || got != greeting {
			r.t.Fatalf("query_port %d answers %q, %v; want the child still running", r.queryPort, got, err)
		}
		if n := len(r.records("term")); n != 0 {
			r.t.Fatalf("the child was stopped %d times", n)
		}
		r.confOriginal()
	}
	// notRefused checks that the refusal left the state with the annotation.
	notRefused step = func(r *rig) {
		r.waitState("refusal cleared", func(st modes.State) bool {
			return st.Mode == "normal" && st.Phase == modes.PhaseRunning && st.Problem == ""
		})
	}
	childArgs = func(want string) step {
		return func(r *rig) {
			starts := r.records("start")
			if len(starts) == 0 || !strings.HasSuffix(starts[len(starts)-1], " "+want) {
				r.t.Fatalf("child started as %q, want args %q", starts, want)
			}
		}
	}
)

// TestMachine runs the mode machine through its scenarios on a real
// in-process supervisor, a fake FE (this binary) and a podinfo directory
// written as kubelet writes it. Every scenario ends with the conf exactly as
// it was and the exit code the container would have.
func TestMachine(t *testing.T) {
	tests := []struct {
		name       string
		opts       options
		steps      []step
		wantCode   int
		wantStarts int      // children started
		wantEvents []string // Event reasons, in order
	}{{
		name:       "start in debug mode, stop request",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), stopReq},
		wantCode:   0,
		wantEvents: []string{"DebugModeEntered"},
	}, {
		name:       "start in debug mode, ctx cancelled",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), cancelCtx},
		wantCode:   0,
		wantEvents: []string{"DebugModeEntered"},
	}, {
		name:       "enter debug mode while running, stop request",
		steps:      []step{runs(1), setDebug, debugged(143), stopReq},
		wantCode:   0,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered"},
	}, {
		name:       "enter debug mode while running, ctx cancelled",
		steps:      []step{runs(1), setDebug, debugged(143), cancelCtx},
		wantCode:   0,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered"},
	}, {
		name:       "leave debug mode: conf restored, child restarted",
		steps:      []step{runs(1), setDebug, debugged(143), setNormal, runs(2), stopReq},
		wantCode:   143,
		wantStarts: 2,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "start in debug mode, leave",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), setNormal, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "leave debug mode waits for a hand-started server",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), handStarted, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "stop request while running",
		steps:      []step{runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
	}, {
		name:       "ctx cancelled while running",
		steps:      []step{runs(1), cancelCtx},
		wantCode:   143,
		wantStarts: 1,
	}, {
		name:     "ctx cancelled before Run",
		opts:     options{cancelled: true},
		wantCode: 143,
	}, {
		name:       "crash marker restored at start",
		opts:       options{crashed: true},
		steps:      []step{runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"ConfRestored"},
	}, {
		name:       "crash marker restored, then debug mode moves the ports once",
		opts:       options{crashed: true, debugAtStart: true},
		steps:      []step{debugged(0), cancelCtx},
		wantCode:   0,
		wantEvents: []string{"ConfRestored", "DebugModeEntered"},
	}, {
		name: "bootstrap cancelled by debug mode",
		opts: options{bootstrap: true},
		steps: []step{bootstraps, setDebug, debugged(0), bootstrapCancelled,
			setNormal, runs(1), childArgs("--console --helper fe-0:9010"), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft", "Registered"},
	}, {
		name:     "stop request during the bootstrap",
		opts:     options{bootstrap: true},
		steps:    []step{bootstraps, stopReq},
		wantCode: 143,
	}, {
		name:     "ctx cancelled during the bootstrap",
		opts:     options{bootstrap: true},
		steps:    []step{bootstraps, cancelCtx},
		wantCode: 143,
	}, {
		name:       "restore fails on leaving: debug mode kept, retried, started once it worked",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), blockRestore, setNormal, restoreFails, unblockRestore, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "ConfRestoreFailed", "DebugModeLeft"},
	}, {
		name:       "restore fails on leaving, debug mode asked for again, left later",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), blockRestore, setNormal, restoreFails, setDebug, unblockRestore, setNormal, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "ConfRestoreFailed", "DebugModeLeft"},
	}, {
		name:       "restore fails on leaving, stop request: exit 0, marker kept for the next start",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), blockRestore, setNormal, restoreFails, stopReq, restoredByNextStart},
		wantCode:   0,
		wantEvents: []string{"DebugModeEntered", "ConfRestoreFailed"},
	}, {
		name:       "restore fails at start: held in debug mode, started once it worked",
		opts:       options{crashed: true, restoreBlocked: true},
		steps:      []step{restoreFails, unblockRestore, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"ConfRestoreFailed", "ConfRestored"},
	}, {
		name:       "restore fails at start in debug mode: restored, then the ports moved once",
		opts:       options{crashed: true, restoreBlocked: true, debugAtStart: true},
		steps:      []step{restoreFails, unblockRestore, debugged(0), setNormal, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"ConfRestoreFailed", "ConfRestored", "DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "an edit made in debug mode is kept on leaving and reported",
		opts:       options{debugAtStart: true},
		steps:      []step{debugged(0), editInDebug, setNormal, editReported, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "ConfEdited", "DebugModeLeft"},
	}, {
		name:       "offset collides in the conf: another offset, left",
		opts:       options{collide: true, debugAtStart: true},
		steps:      []step{debugged(0), setNormal, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "http_port 60000: starts normally, debug mode lowers the offset",
		opts:       options{highHTTP: true},
		steps:      []step{runs(1), setDebug, debugged(143), setNormal, runs(2), stopReq},
		wantCode:   143,
		wantStarts: 2,
		wantEvents: []string{"DebugModeEntered", "DebugModeLeft"},
	}, {
		name:       "no offset works: entry refused, the child runs on, tried again",
		opts:       options{span: true},
		steps:      []step{runs(1), setDebug, refused, setNormal, notRefused, setDebug, refused, stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeRefused", "DebugModeRefused"},
	}, {
		name:       "no offset works at start: the child starts normally",
		opts:       options{span: true, debugAtStart: true},
		steps:      []step{refused, stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"DebugModeRefused"},
	}, {
		name:       "the variable changed since the crash: restored by the marker's offset, the edit kept",
		opts:       options{crashed: true, crashOffset: 5000, debugAtStart: true},
		steps:      []step{debugged(0), setNormal, runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
		wantEvents: []string{"ConfEdited", "ConfRestored", "DebugModeEntered", "DebugModeLeft"},
	}, {
		name:     "Prepare fails with ErrFatal: exit 1, nothing started",
		opts:     options{prepareErr: fmt.Errorf("workload group: %w", modes.ErrFatal)},
		wantCode: 1,
	}, {
		name:       "Prepare fails otherwise: logged, the child starts",
		opts:       options{prepareErr: errors.New("configmap: permission denied")},
		steps:      []step{runs(1), stopReq},
		wantCode:   143,
		wantStarts: 1,
	}, {
		name:       "child exits on its own",
		opts:       options{exitCode: "7"},
		wantCode:   7,
		wantStarts: 1,
		wantEvents: []string{"ChildExited"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.opts)
			for _, s := range tt.steps {
				s(r)
			}
			if code := r.result(); code != tt.wantCode {
				t.Errorf("Run = %d, want %d", code, tt.wantCode)
			}
			r.confOriginal()
			if n := len(r.records("start")); n != tt.wantStarts {
				t.Errorf("%d children started, want %d", n, tt.wantStarts)
			}
			if tt.opts.bootstrap && tt.wantStarts == 0 {
				bootstrapCancelled(r) // by the stop
			}
			r.rec.mu.Lock()
			events, states := r.rec.events, r.rec.states
			r.rec.mu.Unlock()
			if !inOrder(events, tt.wantEvents) {
				t.Errorf("events %v, want %v in this order", events, tt.wantEvents)
			}
			if len(states) > 0 {
				last := states[len(states)-1]
				if tt.opts.exitCode != "" && (last.Phase != modes.PhaseExited || last.LastExit == nil || strconv.Itoa(*last.LastExit) != tt.opts.exitCode) {
					t.Errorf("last state %s, last exit %v; want %s, %s", last.Phase, last.LastExit, modes.PhaseExited, tt.opts.exitCode)
				}
				// The state file is the last state published.
				if st, err := modes.ReadState(r.state); err != nil || st.Phase != last.Phase || st.Mode != last.Mode || st.Component != "fe" {
					t.Errorf("state file: %+v, %v; want %s/%s", st, err, last.Mode, last.Phase)
				}
			}
			// The liveness port is free again (no holder, no child).
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(r.queryPort))
			if err != nil {
				t.Errorf("query_port still held after Run: %v", err)
			} else {
				ln.Close()
			}
		})
	}
}

// inOrder reports whether want is a subsequence of got.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
