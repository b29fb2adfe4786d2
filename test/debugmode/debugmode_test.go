// Package debugmode_test runs `doris-entrypoint fe` as PID 1 of a new PID
// namespace on a sandbox DORIS_ROOT whose start_fe.sh is a fake FE listening
// on the ports of fe.conf, with a downward-API directory written the way
// kubelet writes it, and checks debug mode end to end: start in debug, enter
// and leave at runtime, SIGTERM in debug, a supervisor killed mid-debug.
package debugmode_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var entrypoint, helper string

func TestMain(m *testing.M) { harness.Main(m, &entrypoint, &helper) }

const (
	wait   = 30 * time.Second
	offset = 1000
)

// freePort returns a port that is free, and free offset above it too.
func freePort(t *testing.T) int { return harness.FreePort(t, offset) }

// sandbox is a DORIS_ROOT with a fake FE or BE and a podinfo directory.
type sandbox struct {
	comp                string // fe or be
	root, podinfo, conf string
	orig                []byte
	query, http         int // FE query_port/http_port, BE heartbeat_service_port/webserver_port
	ev                  *harness.Events
	feAddrs             string             // the FE_ADDRS argument
	cluster             *fakedoris.Cluster // behind feAddrs, for a BE
}

func newSandbox(t *testing.T, annotations map[string]string) *sandbox {
	t.Helper()
	return newComponentSandbox(t, "fe", annotations)
}

func newComponentSandbox(t *testing.T, comp string, annotations map[string]string) *sandbox {
	t.Helper()
	s := &sandbox{comp: comp, root: t.TempDir(), query: freePort(t), http: freePort(t), ev: harness.NewEvents(t), feAddrs: "fe-svc:9030"}
	if comp == "be" {
		// A BE registers before it starts: give it a fake FE with a master.
		s.cluster = fakedoris.NewCluster(fakedoris.Layout21)
		s.cluster.AddFrontend(fakedoris.Frontend{Host: "fe-0.test", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER",
			IsMaster: true, Alive: true, Join: true})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fe := fakedoris.ServeFE(ln, s.cluster, "fe-0.test")
		t.Cleanup(func() { fe.Close() })
		s.feAddrs = ln.Addr().String()
	}
	s.podinfo = filepath.Join(s.root, "podinfo")
	s.conf = filepath.Join(s.root, comp, "conf", comp+".conf")
	for _, d := range []string{comp + "/bin", comp + "/conf"} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keys := "query_port http_port"
	if comp == "fe" {
		// Metadata present: the FE starts as a member, no master probing.
		if err := os.MkdirAll(filepath.Join(s.root, "fe/doris-meta/image"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.root, "fe/doris-meta/image/ROLE"), []byte("role=FOLLOWER\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if comp == "be" {
		keys = "heartbeat_service_port webserver_port"
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s serve-conf %s %s\n", helper, s.conf, keys)
	if err := os.WriteFile(filepath.Join(s.root, comp, "bin", "start_"+comp+".sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s.orig = []byte(fmt.Sprintf("# fe.conf with the lines a rewriter breaks\nCUR_DATE=`date +%%Y%%m%%d-%%H%%M%%S`\n"+
		"LOG_DIR = ${DORIS_HOME}/log\nJAVA_OPTS_FOR_JDK_17=\"-Dfile.encoding=UTF-8 -Xlog:gc*,classhisto*=trace:$LOG_DIR/fe.gc.log.$CUR_DATE:time\"\n"+
		"# trailing space \nhttp_port = %d\nquery_port=%d   \nenable_fqdn_mode = true\nedit_log_port = 9010", s.http, s.query))
	if comp == "be" {
		s.orig = []byte(fmt.Sprintf("CUR_DATE=`date +%%Y%%m%%d-%%H%%M%%S`\nJEMALLOC_CONF=\"percpu_arena:percpu,background_thread:true\"\n"+
			"webserver_port = %d\nheartbeat_service_port=%d\nbe_node_role = computation\n", s.http, s.query))
	}
	if err := os.WriteFile(s.conf, s.orig, 0o644); err != nil {
		t.Fatal(err)
	}
	s.annotate(t, annotations)
	return s
}

func (s *sandbox) annotate(t *testing.T, ann map[string]string) {
	t.Helper()
	if err := podinfotest.Write(s.podinfo, ann, map[string]string{"app.kubernetes.io/component": "fe"}); err != nil {
		t.Fatal(err)
	}
}

func (s *sandbox) start(t *testing.T) *harness.Proc {
	t.Helper()
	return s.startOffset(t, offset)
}

// startOffset starts with DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=off.
func (s *sandbox) startOffset(t *testing.T, off int) *harness.Proc {
	t.Helper()
	return harness.Start(t, harness.Options{
		Bin: entrypoint, Args: []string{s.comp, s.feAddrs}, PID1: true,
		Env: []string{s.ev.Env(), "DORIS_ROOT=" + s.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + s.podinfo, "POD_FQDN=" + s.comp + "-0.test",
			"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=" + strconv.Itoa(off), "DORIS_ENTRYPOINT_STOP_TIMEOUT=10s"},
	})
}

func (s *sandbox) listening(port int) string {
	if s.comp == "be" {
		return fmt.Sprintf("listening heartbeat_service_port=%d webserver_port=", port)
	}
	return fmt.Sprintf("listening query_port=%d http_port=", port)
}

// mysqlError connects to port and returns what a MySQL client would get.
func mysqlError(t *testing.T, port int) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatalf("port %d not held: %v", port, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return b
}

func closed(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

var debugAnn = map[string]string{podinfo.KeyRunmode: "debug", "note": "$(touch /tmp/doris-entrypoint-pwned)"}

// assertDebug checks the pod looks the way debug mode promises.
func (s *sandbox) assertDebug(t *testing.T, p *harness.Proc) {
	t.Helper()
	p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	b := mysqlError(t, s.query)
	switch {
	case s.comp == "fe" && !bytes.Contains(b, []byte("\xff\x51\x04#HY000pod is in debug mode")):
		t.Errorf("query port answered %q, want a MySQL ERR packet", b)
	case s.comp == "be" && len(b) != 0:
		t.Errorf("heartbeat port answered %q, want accept and close", b)
	}
	if s.comp == "fe" {
		s.assertMySQLClient(t)
	}
	if !closed(s.http) {
		t.Errorf("http port %d open in debug mode: readiness would pass", s.http)
	}
	conf, _ := os.ReadFile(s.conf)
	wantQ, wantH := fmt.Sprintf("query_port=%d   \n", s.query+offset), fmt.Sprintf("http_port = %d\n", s.http+offset)
	if s.comp == "be" {
		wantQ, wantH = fmt.Sprintf("heartbeat_service_port=%d\n", s.query+offset), fmt.Sprintf("webserver_port = %d\n", s.http+offset)
	}
	if !bytes.Contains(conf, []byte(wantQ)) || !bytes.Contains(conf, []byte(wantH)) {
		t.Errorf("ports not moved in the conf:\n%s", conf)
	}
	out, err := s.status()
	if err != nil || !strings.Contains(out, "mode:      debug") ||
		!strings.Contains(out, fmt.Sprintf("port %d → %d", s.query, s.query+offset)) {
		t.Errorf("status: %v\n%s", err, out)
	}
}

// status runs `doris-entrypoint status` as kubectl exec would.
func (s *sandbox) status() (string, error) {
	cmd := exec.Command(entrypoint, "status")
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+s.root)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *sandbox) assertRestored(t *testing.T) {
	t.Helper()
	conf, _ := os.ReadFile(s.conf)
	if !bytes.Equal(conf, s.orig) {
		t.Errorf("conf not restored byte for byte:\n%q\nwant\n%q", conf, s.orig)
	}
	if _, err := os.Stat(s.conf + ".doris-entrypoint-debug"); err == nil {
		t.Error("marker left behind")
	}
}

func TestStartInDebugThenLeave(t *testing.T) {
	os.Remove("/tmp/doris-entrypoint-pwned")
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	if s.ev.Has("listening") {
		t.Fatal("the FE was started in debug mode")
	}
	if _, err := os.Stat("/tmp/doris-entrypoint-pwned"); err == nil {
		t.Fatal("an annotation value was executed")
	}

	s.annotate(t, map[string]string{"note": "x"})
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
}

func TestEnterAtRuntimeThenSIGTERM(t *testing.T) {
	s := newSandbox(t, nil)
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	p.WaitLog(t, "child started", wait)

	s.annotate(t, debugAnn)
	s.ev.Wait(t, "stopped ", wait)
	s.assertDebug(t, p)
	if got := p.Find("child exited"); len(got) != 1 {
		t.Fatalf("child not stopped once; log:\n%s", p.Log())
	}

	start := time.Now()
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d in debug mode, want 0; log:\n%s", code, p.Log())
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("SIGTERM in debug mode took %s with nothing running", el)
	}
	s.assertRestored(t)
}

// Leaving waits for a hand-started FE (its moved port in use) to exit.
func TestLeaveWaitsForHandStarted(t *testing.T) {
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	hand, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.query+offset))
	if err != nil {
		t.Fatal(err)
	}
	s.annotate(t, nil)
	p.WaitLog(t, "waiting for the hand-started component to exit before leaving debug mode", wait)
	if s.ev.Has("listening") {
		t.Fatal("started while the hand-started FE still runs")
	}
	hand.Close()
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)
}

// A supervisor killed with SIGKILL in debug mode leaves the patched conf and
// the marker; the next start restores the conf before deciding the mode.
func TestKilledInDebugRestoresOnNextStart(t *testing.T) {
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	p.Signal(t, syscall.SIGKILL)
	p.Wait(t, wait)
	if _, err := os.Stat(s.conf + ".doris-entrypoint-debug"); err != nil {
		t.Fatalf("no marker after SIGKILL: %v", err)
	}

	s.annotate(t, nil)
	p2 := s.start(t)
	p2.WaitLog(t, "conf restored after a crash in debug mode", wait)
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)
	p2.Signal(t, syscall.SIGTERM)
	p2.Wait(t, wait)
}

// The BE (and CN) the same way: heartbeat_service_port held by accept and
// close, webserver_port closed.
func TestBEStartInDebugThenLeave(t *testing.T) {
	s := newComponentSandbox(t, "be", debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	s.annotate(t, nil)
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
}

// `debug run` (from kubectl exec: not a child of PID 1) starts the FE on the
// moved ports in debug mode, and refuses in normal mode.
func TestDebugRun(t *testing.T) {
	s := newSandbox(t, nil)
	// The FE notes the signal mask it was started with: the one `debug run`
	// was given (none), though the Go runtime's threads block some.
	script := filepath.Join(s.root, "fe", "bin", "start_fe.sh")
	body, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	mask := filepath.Join(s.root, "sigblk")
	// bash, as Doris' start_fe.sh: dash would clear the mask.
	body = bytes.Replace(body, []byte("#!/bin/sh\n"), []byte("#!/bin/bash\ngrep SigBlk /proc/self/status >"+mask+"\n"), 1)
	if err := os.WriteFile(script, body, 0o755); err != nil {
		t.Fatal(err)
	}
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	run := func() *exec.Cmd {
		cmd := exec.Command(entrypoint, "debug", "run")
		cmd.Env = append(os.Environ(), "DORIS_ROOT="+s.root, s.ev.Env())
		return cmd
	}
	if out, err := run().CombinedOutput(); err == nil || !strings.Contains(string(out), "refusing") {
		t.Fatalf("debug run in normal mode: %v\n%s", err, out)
	}
	s.annotate(t, debugAnn)
	s.assertDebug(t, p)
	cmd := run()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.ev.Wait(t, s.listening(s.query+offset), wait)
	if got, err := os.ReadFile(mask); err != nil || string(got) != "SigBlk:\t0000000000000000\n" {
		t.Errorf("the FE debug run started was given the mask %q (%v), want none blocked", got, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// A conf the patcher cannot handle leaves the conf untouched, and the pod
// still enters debug mode holding the liveness port: no crash loop.
func TestDebugWithUnpatchableConf(t *testing.T) {
	s := newSandbox(t, debugAnn)
	s.orig = []byte(fmt.Sprintf("query_port = %d\nhttp_port = ${HTTP_PORT}\nenable_fqdn_mode = true\n", s.query))
	if err := os.WriteFile(s.conf, s.orig, 0o644); err != nil {
		t.Fatal(err)
	}
	p := s.start(t)
	p.WaitLog(t, "debug mode without moved ports: the conf is unchanged", wait)
	p.WaitLog(t, "debug mode: liveness port held, ports not moved", wait)
	if b := mysqlError(t, s.query); !bytes.Contains(b, []byte("pod is in debug mode")) {
		t.Fatalf("query port answered %q", b)
	}
	if conf, _ := os.ReadFile(s.conf); !bytes.Equal(conf, s.orig) {
		t.Fatalf("conf changed:\n%s", conf)
	}
	if out, _ := s.status(); !strings.Contains(out, "problem:   ports not moved") {
		t.Fatalf("status does not say why:\n%s", out)
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// assertMySQLClient checks the held query port with the real mysql client
// (Debian's default-mysql-client, installed by .ci/run).
func (s *sandbox) assertMySQLClient(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mysql"); err != nil {
		t.Fatal("the mysql client is needed (apt-get install default-mysql-client; .ci/run does)")
	}
	for _, args := range [][]string{{"--skip-ssl"}, nil} {
		args = append(args, "-h127.0.0.1", "-P"+strconv.Itoa(s.query), "-uroot", "--connect-timeout=5", "-e", "select 1")
		out, err := exec.Command("mysql", args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "pod is in debug mode") {
			t.Errorf("mysql %q: %v\n%s", args, err, out)
		}
		if args[0] == "--skip-ssl" && !strings.Contains(string(out), "ERROR 1105 (HY000): pod is in debug mode") {
			t.Errorf("mysql --skip-ssl printed %q", out)
		}
	}
}

// SIGTERM in debug mode also stops what users started with kubectl exec:
// here `doris-entrypoint debug run` entered into the PID namespace with
// nsenter (as kubectl exec enters the container), so it is not a child of
// PID 1 but gets its SIGTERM and time to stop before PID 1 exits.
func TestSIGTERMInDebugStopsHandStarted(t *testing.T) {
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	enter := exec.Command("nsenter", "--target", strconv.Itoa(p.PID()), "--pid", "--mount",
		entrypoint, "debug", "run")
	enter.Env = append(os.Environ(), "DORIS_ROOT="+s.root, s.ev.Env())
	if err := enter.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enter.Process.Kill(); enter.Wait() })
	s.ev.Wait(t, s.listening(s.query+offset), wait)

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
	s.ev.Wait(t, "stopped ", 5*time.Second) // sent before it exited, so before PID 1 did
	if n := len(p.Find("terminating remaining processes")); n != 1 {
		t.Fatalf("want one 'terminating remaining processes'; log:\n%s", p.Log())
	}
	s.assertRestored(t)
}

// Entering debug mode with an FE that ignores SIGTERM: it is SIGKILLed at
// the stop timeout, but what users run through kubectl exec (nsenter here)
// is left alone until the pod itself stops.
func TestEnterDebugKillsOnlyTheChild(t *testing.T) {
	s := newSandbox(t, nil)
	script := fmt.Sprintf("#!/bin/sh\nexec %s ignore-term\n", helper)
	if err := os.WriteFile(filepath.Join(s.root, "fe/bin/start_fe.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := harness.Start(t, harness.Options{
		Bin: entrypoint, Args: []string{"fe", "fe-svc:9030"}, PID1: true,
		Env: []string{s.ev.Env(), "DORIS_ROOT=" + s.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + s.podinfo,
			"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=" + strconv.Itoa(offset), "DORIS_ENTRYPOINT_STOP_TIMEOUT=1s"},
	})
	s.ev.Wait(t, "ready ignore", wait)
	p.WaitLog(t, "child started", wait)
	user := exec.Command("nsenter", "--target", strconv.Itoa(p.PID()), "--pid", "--mount", helper, "trap-term", "0s")
	user.Env = append(os.Environ(), s.ev.Env())
	if err := user.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { user.Process.Kill(); user.Wait() })
	s.ev.Wait(t, "ready trap", wait)

	s.annotate(t, debugAnn)
	p.WaitLog(t, "stop timeout reached", wait)
	p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	if s.ev.Has("got ") {
		t.Fatal("entering debug mode signalled a kubectl exec process")
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
	s.ev.Wait(t, "clean ", 5*time.Second) // the pod's stop did reach it
}

// A BE registers with the FE before its start script runs.
func TestBERegistersBeforeStart(t *testing.T) {
	s := newComponentSandbox(t, "be", nil)
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	bes := s.cluster.Backends()
	if len(bes) != 1 || bes[0].Host != "be-0.test" || bes[0].HeartbeatPort != s.query {
		t.Fatalf("backends %+v", bes)
	}
	if n := len(p.Find("backend registered")); n != 1 {
		t.Fatalf("log:\n%s", p.Log())
	}
	p.Signal(t, syscall.SIGTERM)
	p.Wait(t, wait)
}

// A BE waiting for a master that is not there still enters debug mode at
// once when annotated (be_entrypoint.sh loops forever there), and SIGTERM
// ends the wait too.
func TestBEWaitingForMasterEntersDebug(t *testing.T) {
	s := newComponentSandbox(t, "be", nil)
	s.cluster.SetNoMaster(true)
	p := s.start(t)
	p.WaitLog(t, "waiting for an FE master to register the backend", wait)
	start := time.Now()
	s.annotate(t, debugAnn)
	s.assertDebug(t, p)
	if el := time.Since(start); el > time.Second {
		t.Errorf("debug mode engaged %s after the annotation", el)
	}
	if s.ev.Has("listening") {
		t.Fatal("the BE started without being registered")
	}
	// Leaving debug mode goes back to waiting; SIGTERM ends that wait.
	s.annotate(t, nil)
	p.WaitLog(t, "leaving debug mode", wait)
	p.WaitLogN(t, "waiting for an FE master to register the backend", 2, wait)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 143 {
		t.Fatalf("exit %d, want 143; log:\n%s", code, p.Log())
	}
	s.assertRestored(t)
}

// The operator's preStop hook (fe_prestop.sh, a link to the binary) asks PID 1
// over the control socket to stop gracefully and returns once it has exited,
// in normal mode and in debug mode.
func TestPrestop(t *testing.T) {
	for _, ann := range []map[string]string{nil, debugAnn} {
		s := newSandbox(t, ann)
		p := s.start(t)
		if ann == nil {
			s.ev.Wait(t, s.listening(s.query), wait)
		} else {
			s.assertDebug(t, p)
		}
		link := filepath.Join(t.TempDir(), "fe_prestop.sh")
		if err := os.Symlink(entrypoint, link); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(link)
		cmd.Env = append(os.Environ(), "DORIS_ROOT="+s.root)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "stopped") {
			t.Fatalf("prestop: %v\n%s", err, out)
		}
		// PID 1 has exited (its socket closed); unshare follows at once.
		if code := p.Wait(t, 5*time.Second); code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, p.Log())
		}
		if st := p.Find("stop requested"); len(st) != 1 || st[0]["reason"] != "prestop" {
			t.Fatalf("log:\n%s", p.Log())
		}
		s.assertRestored(t)
	}
}

// doris-debug, as older entrypoint scripts call it before starting Doris:
// returns at once without the annotation; with it, holds the liveness port
// (MySQL error for the FE) and returns once the annotation is removed.
func TestDorisDebugHook(t *testing.T) {
	s := newSandbox(t, nil)
	link := filepath.Join(t.TempDir(), "doris-debug")
	if err := os.Symlink(entrypoint, link); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DORIS_ROOT="+s.root, "DORIS_ENTRYPOINT_PODINFO_DIR="+s.podinfo)
	cmd := exec.Command(link, "--component", "fe")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "no debug annotation") {
		t.Fatalf("without the annotation: %v %s", err, out)
	}
	s.annotate(t, debugAnn)
	cmd = exec.Command(link, "--component", "fe")
	cmd.Env = env
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(wait)
	for closed(s.query) {
		if time.Now().After(deadline) {
			t.Fatalf("port %d never held: %s", s.query, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b := mysqlError(t, s.query); !bytes.Contains(b, []byte("pod is in debug mode")) {
		t.Fatalf("query port answered %q", b)
	}
	s.annotate(t, nil)
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "annotation removed") {
			t.Fatalf("exit %v: %s", err, out)
		}
	case <-time.After(wait):
		cmd.Process.Kill()
		t.Fatalf("still blocking after the annotation was removed: %s", out)
	}
}

// A second supervisor in the same DORIS_ROOT (fe_entrypoint.sh run by hand
// in a debug session) refuses at once and points to `debug run`: it
// neither takes over the control socket nor restores the conf under PID 1.
func TestSecondSupervisorRefuses(t *testing.T) {
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	marker, err := os.ReadFile(s.conf + ".doris-entrypoint-debug")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{s.ev.Env(), "DORIS_ROOT=" + s.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + s.podinfo,
		"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=" + strconv.Itoa(offset)}
	for _, tt := range []struct {
		argv0 string
		args  []string
	}{
		{"", []string{"fe", s.feAddrs}},
		{"fe_entrypoint.sh", []string{s.feAddrs}},
	} {
		second := harness.Start(t, harness.Options{Bin: entrypoint, Args: tt.args, Argv0: tt.argv0, Env: env})
		if code := second.Wait(t, 10*time.Second); code != 1 {
			t.Fatalf("second supervisor %q: exit %d, want 1; log:\n%s", tt.argv0, code, second.Log())
		}
		if log := second.Log(); !strings.Contains(log, "another doris-entrypoint") || !strings.Contains(log, "doris-entrypoint debug run") {
			t.Fatalf("the refusal does not point to debug run:\n%s", log)
		}
	}
	if got, err := os.ReadFile(s.conf + ".doris-entrypoint-debug"); err != nil || !bytes.Equal(got, marker) {
		t.Fatalf("the second supervisor touched the marker: %v", err)
	}
	if out, err := s.status(); err != nil || !strings.Contains(out, "mode:      debug") {
		t.Fatalf("status after the refusal: %v\n%s", err, out)
	}
	// PID 1's control socket still answers prestop.
	cmd := exec.Command(entrypoint, "prestop")
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+s.root)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "stopped") {
		t.Fatalf("prestop after the refusal: %v\n%s", err, out)
	}
	if code := p.Wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
	s.assertRestored(t)
}

// What a kubectl exec session left behind, reparented to PID 1 when the
// session ended, is not the component: entering debug mode stops only the
// FE's own tree and leaves it alone; the pod's stop still reaches it.
func TestEnterDebugSparesExecLeftovers(t *testing.T) {
	s := newSandbox(t, nil)
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	p.WaitLog(t, "child started", wait)
	// The shell exits at once: its background job is an orphan of PID 1.
	session := exec.Command("nsenter", "--target", strconv.Itoa(p.PID()), "--pid", "--mount",
		"/bin/sh", "-c", helper+" trap-term 0s </dev/null >/dev/null 2>&1 &")
	session.Env = append(os.Environ(), s.ev.Env())
	if out, err := session.CombinedOutput(); err != nil {
		t.Fatalf("exec session: %v\n%s", err, out)
	}
	var leftover int
	fmt.Sscanf(s.ev.Wait(t, "ready trap", wait), "ready trap %d", &leftover)
	// Its pid is the namespace's: read its stat in the namespace's /proc.
	harness.WaitFor(t, "the leftover reparented to PID 1", wait, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/proc/%d/stat", p.PID(), leftover))
		i := bytes.LastIndexByte(b, ')')
		return err == nil && i > 0 && strings.HasPrefix(string(b[i+1:]), " S 1 ")
	})

	s.annotate(t, debugAnn)
	s.ev.Wait(t, "stopped ", wait)
	s.assertDebug(t, p)
	if s.ev.Has("got ") {
		t.Fatal("entering debug mode signalled what a kubectl exec session left behind")
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
	s.ev.Wait(t, "clean ", 5*time.Second) // the pod's stop did reach it
}

// setPorts rewrites the sandbox's fe.conf with these ports.
func (s *sandbox) setPorts(t *testing.T, query, http int) {
	t.Helper()
	s.query, s.http = query, http
	s.orig = []byte(fmt.Sprintf("query_port = %d\nhttp_port = %d\nenable_fqdn_mode = true\n", query, http))
	if err := os.WriteFile(s.conf, s.orig, 0o644); err != nil {
		t.Fatal(err)
	}
}

// movedBy checks debug mode moved the ports by another offset than the
// configured one, that the marker records it and status shows it, and
// returns it.
func (s *sandbox) movedBy(t *testing.T, p *harness.Proc) int {
	t.Helper()
	p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	conf, err := os.ReadFile(s.conf)
	if err != nil {
		t.Fatal(err)
	}
	qv, _ := confpatch.Value(conf, "query_port")
	hv, _ := confpatch.Value(conf, "http_port")
	q, _ := strconv.Atoi(qv)
	h, _ := strconv.Atoi(hv)
	off := q - s.query
	if off == offset || off == 0 || h-s.http != off || h < 1 || h > 65535 || q < 1 || q > 65535 {
		t.Fatalf("ports moved by %d and %d (configured %d):\n%s", off, h-s.http, offset, conf)
	}
	if m, err := os.ReadFile(s.conf + ".doris-entrypoint-debug"); err != nil || !strings.Contains(string(m), fmt.Sprintf("\noffset: %d\n", off)) {
		t.Fatalf("the marker does not record offset %d: %v\n%s", off, err, m)
	}
	if b := mysqlError(t, s.query); !bytes.Contains(b, []byte("pod is in debug mode")) {
		t.Fatalf("query port answered %q", b)
	}
	if out, err := s.status(); err != nil || !strings.Contains(out, fmt.Sprintf("port %d → %d", s.query, s.query+off)) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return off
}

// highPort is a free port above 65535-offset, so that the configured
// offset would move it out of range.
func highPort(t *testing.T) int {
	t.Helper()
	for p := 65535 - offset + 100; p < 65500; p++ {
		if ln, err := net.Listen("tcp", ":"+strconv.Itoa(p)); err == nil {
			ln.Close()
			return p
		}
	}
	t.Skip("no free port above 65535 - offset")
	return 0
}

// A debug setting never stops a normal start (issue 23): http_port near
// 65535, which the configured offset would move out of range, is a conf
// Doris accepts: the FE starts, and debug mode then moves the ports by
// another offset (downward here), recorded in the marker; leaving restores
// the conf byte for byte.
func TestHighPortStartsThenDebugPicksAnotherOffset(t *testing.T) {
	s := newSandbox(t, nil)
	s.setPorts(t, s.query, highPort(t))
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	s.annotate(t, debugAnn)
	s.ev.Wait(t, "stopped ", wait)
	if off := s.movedBy(t, p); off > 0 {
		t.Errorf("offset %d moves http_port %d past 65535", off, s.http)
	}
	s.annotate(t, nil)
	s.ev.WaitN(t, s.listening(s.query), 2, wait)
	s.assertRestored(t)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
}

// An offset that moves a port onto another: the start goes ahead (it was
// refused with exit 2), and debug mode moves the ports by another offset,
// at start as on entering.
func TestOffsetCollision(t *testing.T) {
	t.Run("at start", func(t *testing.T) {
		s := newSandbox(t, debugAnn)
		// The moved http_port would land on the query_port the holder keeps.
		s.setPorts(t, s.query, s.query-offset)
		p := s.start(t)
		s.movedBy(t, p)
		s.annotate(t, nil)
		s.ev.Wait(t, s.listening(s.query), wait)
		s.assertRestored(t)
		p.Signal(t, syscall.SIGTERM)
		if code := p.Wait(t, wait); code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, p.Log())
		}
	})
	t.Run("on entering", func(t *testing.T) {
		s := newSandbox(t, nil)
		p := s.start(t)
		s.ev.Wait(t, s.listening(s.query), wait)
		// A conf edited while the FE runs: a port only it names is where
		// the moved http_port would land.
		s.orig = append(s.orig, fmt.Sprintf("\narrow_flight_sql_port = %d\n", s.http+offset)...)
		if err := os.WriteFile(s.conf, s.orig, 0o644); err != nil {
			t.Fatal(err)
		}
		s.annotate(t, debugAnn)
		off := s.movedBy(t, p)
		p.WaitLog(t, "debug mode: DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET does not work for this conf: using another offset", wait)
		run := exec.Command(entrypoint, "debug", "run")
		run.Env = append(os.Environ(), "DORIS_ROOT="+s.root, s.ev.Env())
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { run.Process.Kill(); run.Wait() })
		s.ev.Wait(t, s.listening(s.query+off), wait)
		run.Process.Signal(syscall.SIGTERM)
		run.Wait()
		s.annotate(t, nil)
		s.ev.WaitN(t, s.listening(s.query), 2, wait)
		s.assertRestored(t)
		p.Signal(t, syscall.SIGTERM)
		if code := p.Wait(t, wait); code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, p.Log())
		}
	})
}

// Where no offset works (ports at both ends of 1..65535), the entry is
// refused: the FE keeps running, status says why, and the annotation
// removed clears it.
func TestNoOffsetRefusesDebug(t *testing.T) {
	if ln, err := net.Listen("tcp", ":65535"); err != nil {
		t.Skipf("port 65535 in use: %v", err)
	} else {
		ln.Close()
	}
	s := newSandbox(t, nil)
	s.setPorts(t, 65535, 1)
	p := s.start(t)
	s.ev.Wait(t, s.listening(s.query), wait)
	p.WaitLog(t, "child started", wait)
	s.annotate(t, debugAnn)
	p.WaitLog(t, "debug mode refused: no port offset works, staying in normal mode", wait)
	out, _ := s.status()
	for _, want := range []string{"mode:      normal",
		"problem:   debug mode refused: DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET 1000 moves query_port 65535 to 66535, outside 1..65535",
		"the FE keeps running in normal mode with the annotation " + podinfo.KeyRunmode + "=debug still set"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
	if s.ev.Has("stopped ") || closed(s.query) {
		t.Fatalf("the FE was stopped; log:\n%s", p.Log())
	}
	if conf, _ := os.ReadFile(s.conf); !bytes.Equal(conf, s.orig) {
		t.Fatalf("conf changed:\n%s", conf)
	}
	s.annotate(t, nil)
	p.WaitLog(t, "debug annotation removed: debug mode no longer refused", wait)
	harness.WaitFor(t, "status without the refusal", wait, func() bool {
		out, err := s.status()
		return err == nil && !strings.Contains(out, "refused")
	})
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
}

// A supervisor killed in debug mode, restarted with another offset, one
// that collides in this conf (exit 2 before): the restore uses the marker,
// the FE starts on its own ports.
func TestOffsetChangedBeforeRestore(t *testing.T) {
	s := newSandbox(t, debugAnn)
	p := s.start(t)
	s.assertDebug(t, p)
	p.Signal(t, syscall.SIGKILL)
	p.Wait(t, wait)
	if _, err := os.Stat(s.conf + ".doris-entrypoint-debug"); err != nil {
		t.Fatalf("no marker after SIGKILL: %v", err)
	}
	s.annotate(t, nil)
	changed := max(s.query-s.http, s.http-s.query) // moves one of the two onto the other
	p2 := s.startOffset(t, changed)
	p2.WaitLog(t, "conf restored after a crash in debug mode", wait)
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)
	p2.Signal(t, syscall.SIGTERM)
	if code := p2.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p2.Log())
	}
}

// A conf that cannot be restored (its file system is full) keeps the pod in
// debug mode — the port held, the reason in status and /status — and the
// FE starts, on its own ports, only once a retry has restored it.
func TestRestoreFailureStaysInDebug(t *testing.T) {
	s := newSandbox(t, debugAnn)
	// The conf directory on a small tmpfs of its own.
	dir := filepath.Dir(s.conf)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := os.WriteFile(s.conf, s.orig, 0o644); err != nil {
		t.Fatal(err)
	}
	p := s.start(t)
	s.assertDebug(t, p)

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the conf's file system: %v", err)
	}
	s.annotate(t, nil)
	p.WaitLog(t, "cannot restore the conf: staying in debug mode, retrying", wait)
	out, _ := s.status()
	for _, want := range []string{"mode:      debug", "problem:   conf not restored (", "the FE starts only once the restore works"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
	js := exec.Command(entrypoint, "status", "--json")
	js.Env = append(os.Environ(), "DORIS_ROOT="+s.root)
	if b, err := js.Output(); err != nil || !strings.Contains(string(b), `"problem": "conf not restored (`) {
		t.Errorf("/status: %v\n%s", err, b)
	}
	if b := mysqlError(t, s.query); !bytes.Contains(b, []byte("pod is in debug mode")) {
		t.Fatalf("query port not held while the restore fails: %q", b)
	}
	if s.ev.Has("listening") {
		t.Fatal("the FE started with the conf not restored")
	}

	os.Remove(filler)
	s.ev.Wait(t, s.listening(s.query), wait)
	s.assertRestored(t)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, p.Log())
	}
}
