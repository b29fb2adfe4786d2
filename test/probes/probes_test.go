// Package probes_test runs `doris-entrypoint fe|be` as PID 1 of a new PID
// namespace, on sandboxes whose start scripts exec the fake FE/BE, and checks
// the probe endpoint and the exec-probe client end to end: readiness through
// the real /api/health and SHOW FRONTENDS/BACKENDS, readiness false from
// SIGTERM or prestop on while the child still stops, debug mode live /
// not ready / started.
package probes_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var entrypoint, helper string

func TestMain(m *testing.M) { harness.Main(m, &entrypoint, &helper) }

const wait = 30 * time.Second

// node is a sandbox DORIS_ROOT with a fake FE or BE, run by the binary.
type node struct {
	comp, fqdn, root, podinfo string
	ports                     map[string]int
	gate                      string // FAKE_STOP_GATE
	ev                        *harness.Events
	cluster                   *fakedoris.Cluster // BE: the in-process FE it registers with
	feAddr                    string
	p                         *harness.Proc
	endpoint                  string   // host:port of the probe endpoint
	extraEnv                  []string // after env's
}

func freePorts(t *testing.T, keys ...string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, k := range keys {
		m[k] = harness.FreePort(t, 1000)
	}
	return m
}

func newNode(t *testing.T, comp string) *node {
	t.Helper()
	n := &node{comp: comp, fqdn: comp + "-0." + comp + "-internal.test", root: t.TempDir(), ev: harness.NewEvents(t)}
	n.podinfo = filepath.Join(n.root, "podinfo")
	n.gate = filepath.Join(n.root, "stop-gate")
	conf := ""
	if comp == "fe" {
		n.ports = freePorts(t, "query_port", "http_port", "edit_log_port")
		conf = "enable_fqdn_mode = true\n"
		// Metadata present: the FE starts as a member, the fake as master.
		meta := filepath.Join(n.root, "fe", "doris-meta", "image")
		if err := os.MkdirAll(meta, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(meta, "ROLE"), []byte("role=FOLLOWER\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		n.ports = freePorts(t, "heartbeat_service_port", "webserver_port")
		n.cluster = fakedoris.NewCluster(fakedoris.Layout3)
		n.cluster.AddFrontend(fakedoris.Frontend{Host: "fe-0.fe-internal.test", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER",
			IsMaster: true, Alive: true, Join: true})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fe := fakedoris.ServeFE(ln, n.cluster, "fe-0.fe-internal.test")
		t.Cleanup(func() { fe.Close() })
		n.feAddr = ln.Addr().String()
	}
	for _, d := range []string{comp + "/bin", comp + "/conf"} {
		if err := os.MkdirAll(filepath.Join(n.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range n.ports {
		conf += fmt.Sprintf("%s = %d\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(n.root, comp, "conf", comp+".conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s fake-%s \"$DORIS_ROOT/%s/conf/%s.conf\" \"$@\"\n", helper, comp, comp, comp)
	if err := os.WriteFile(filepath.Join(n.root, comp, "bin", "start_"+comp+".sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	n.annotate(t, nil)
	return n
}

func (n *node) annotate(t *testing.T, ann map[string]string) {
	t.Helper()
	if err := podinfotest.Write(n.podinfo, ann, map[string]string{"app.kubernetes.io/component": n.comp}); err != nil {
		t.Fatal(err)
	}
}

func (n *node) env() []string {
	return append([]string{n.ev.Env(), "DORIS_ROOT=" + n.root, "POD_FQDN=" + n.fqdn, "DORIS_ENTRYPOINT_PODINFO_DIR=" + n.podinfo,
		"CONFIGMAP_MOUNT_PATH=" + filepath.Join(n.root, "none"), "FAKE_DIR=" + n.root, "FAKE_STOP_GATE=" + n.gate,
		"DORIS_ENTRYPOINT_PROBE_INTERVAL=200ms", "DORIS_ENTRYPOINT_STOP_TIMEOUT=20s", "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=1000"}, n.extraEnv...)
}

func (n *node) start(t *testing.T) {
	t.Helper()
	n.p = harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{n.comp, n.feAddr}, PID1: true, Env: n.env()})
	n.endpoint = n.p.WaitLog(t, "probe endpoint listening", wait)["addr"].(string)
	b, err := os.ReadFile(filepath.Join(n.root, ".doris-entrypoint", "probe.addr"))
	if err != nil || strings.TrimSpace(string(b)) != n.endpoint {
		t.Fatalf("probe.addr %q, %v; log says %s", b, err, n.endpoint)
	}
}

// get asks the endpoint for path.
func (n *node) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.endpoint + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitProbe waits until path answers code.
func (n *node) waitProbe(t *testing.T, path string, code int) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, body := n.get(t, path)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %q, want %d; log:\n%s", path, got, body, code, n.p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expect checks the three probes at once.
func (n *node) expect(t *testing.T, live, ready, startup int, readyReason string) {
	t.Helper()
	for path, want := range map[string]int{"/livez": live, "/readyz": ready, "/startupz": startup} {
		got, body := n.get(t, path)
		if got != want {
			t.Errorf("%s: %d %q, want %d", path, got, body, want)
		}
		if path == "/readyz" && !strings.Contains(body, readyReason) {
			t.Errorf("/readyz said %q, want %q in it", body, readyReason)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// execProbe runs `doris-entrypoint probe KIND` as kubelet's exec probe
// would: in the container's mount and PID namespaces, here the
// supervisor's (unshare --mount-proc gave it a mount namespace of its own).
func (n *node) execProbe(t *testing.T, kind string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command("nsenter", "--target", strconv.Itoa(n.p.PID()), "--mount", "--pid", "--",
		entrypoint, "probe", kind, "--addr", n.endpoint)
	t0 := time.Now()
	out, err := cmd.Output()
	el := time.Since(t0)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out), el
}

func (n *node) status(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(entrypoint, append([]string{"status"}, args...)...)
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+n.root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return string(out)
}

func (n *node) childAlive() bool {
	return !n.ev.Has("fake-" + n.comp + "-stopped")
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	harness.WaitFor(t, path, wait, func() bool { _, err := os.Stat(path); return err == nil })
}

// An FE turns ready through its own /api/health and SHOW FRONTENDS; from
// SIGTERM on it is not ready, while the JVM still stops; the exec probes
// agree with the endpoint.
func TestFEReadyThenSIGTERM(t *testing.T) {
	n := newNode(t, "fe")
	n.start(t)
	n.waitProbe(t, "/startupz", 200)
	body := n.waitProbe(t, "/readyz", 200)
	if !strings.Contains(body, "health, membership ok") {
		t.Fatalf("readyz %q", body)
	}
	n.expect(t, 200, 200, 200, "ready: pid")
	for kind, want := range map[string]int{"live": 0, "ready": 0, "startup": 0} {
		code, out, el := n.execProbe(t, kind)
		if code != want || el > time.Second {
			t.Errorf("probe %s: exit %d in %s (%q), want %d within 1s", kind, code, el, out, want)
		}
	}
	var st struct {
		Component, Mode, Phase string
		Child                  struct{ PID int }
		Checks                 map[string]struct{ OK bool }
	}
	// The port check may have run a moment before the fake JVM listened:
	// wait for a round with all three passing.
	deadline := time.Now().Add(wait)
	for {
		_, js := n.get(t, "/status")
		if err := json.Unmarshal([]byte(js), &st); err != nil || st.Component != "fe" || st.Phase != "running" || st.Child.PID == 0 {
			t.Fatalf("status %v: %s", err, js)
		}
		if st.Checks["health"].OK && st.Checks["membership"].OK && st.Checks["port"].OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: %s", js)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := n.status(t); !strings.Contains(out, "ready   ok") || !strings.Contains(out, "membership ok") {
		t.Fatalf("status:\n%s", out)
	}

	n.p.Signal(t, syscall.SIGTERM)
	waitFile(t, n.gate+".term") // the fake JVM got SIGTERM and is stopping
	n.expect(t, 200, 503, 200, "not ready: stopping")
	if code, out, _ := n.execProbe(t, "ready"); code != 1 || !strings.Contains(out, "stopping") {
		t.Fatalf("probe ready while stopping: exit %d %q", code, out)
	}
	if !n.childAlive() {
		t.Fatal("the child stopped before readiness was checked")
	}
	os.WriteFile(n.gate, nil, 0o644)
	if code := n.p.Wait(t, wait); code != 0 && code != 143 {
		t.Fatalf("exit %d; log:\n%s", code, n.p.Log())
	}
	n.ev.Wait(t, "fake-fe-stopped", wait)
}

// Debug mode: live 200, ready 503, startup 200, and the exec probes exit
// 0 / 1 / 0; back to normal, ready again.
func TestDebugModeProbes(t *testing.T) {
	n := newNode(t, "fe")
	n.start(t)
	n.waitProbe(t, "/readyz", 200)
	os.WriteFile(n.gate, nil, 0o644) // the child stops at once for debug mode
	n.annotate(t, map[string]string{podinfo.KeyRunmode: "debug"})
	n.p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	n.expect(t, 200, 503, 200, "not ready: debug mode")
	for kind, want := range map[string]int{"live": 0, "ready": 1, "startup": 0} {
		if code, out, el := n.execProbe(t, kind); code != want || el > time.Second {
			t.Errorf("probe %s: exit %d in %s (%q), want %d within 1s", kind, code, el, out, want)
		}
	}
	out := n.status(t)
	for _, want := range []string{"mode:      debug", "ready   FAIL  not ready: debug mode", "restarts:  0 (last exit code"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	_, metrics := n.get(t, "/metrics")
	if !strings.Contains(metrics, `doris_entrypoint_mode{mode="debug"} 1`) || !strings.Contains(metrics, "doris_entrypoint_child_up 0") {
		t.Errorf("metrics in debug mode:\n%s", metrics)
	}

	n.annotate(t, nil)
	n.waitProbe(t, "/readyz", 200)
	if _, js := n.get(t, "/status"); !strings.Contains(js, `"restarts": 1`) {
		t.Errorf("status after a round trip: %s", js)
	}
	n.p.Signal(t, syscall.SIGTERM)
	n.p.Wait(t, wait)
}

// The operator's preStop (be_prestop.sh) from another process: readiness
// fails at once, the BE stops gracefully, the hook returns once PID 1 has
// exited. Before that, a BE that the FE reports not alive is not ready.
func TestBEMembershipAndPrestop(t *testing.T) {
	n := newNode(t, "be")
	n.start(t)
	n.waitProbe(t, "/readyz", 200)
	n.cluster.SetAlive(n.fqdn, false)
	body := n.waitProbe(t, "/readyz", 503)
	if !strings.Contains(body, "SHOW BACKENDS on "+n.feAddr+" lists "+n.fqdn+":"+strconv.Itoa(n.ports["heartbeat_service_port"])+" with Alive=false") {
		t.Fatalf("readyz %q", body)
	}
	n.cluster.SetAlive(n.fqdn, true)
	n.waitProbe(t, "/readyz", 200)

	link := filepath.Join(t.TempDir(), "be_prestop.sh")
	if err := os.Symlink(entrypoint, link); err != nil {
		t.Fatal(err)
	}
	pre := exec.Command(link)
	pre.Env = append(os.Environ(), "DORIS_ROOT="+n.root)
	out := &strings.Builder{}
	pre.Stdout, pre.Stderr = out, out
	if err := pre.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, n.gate+".term")
	n.expect(t, 200, 503, 200, "not ready: stopping")
	if !n.childAlive() {
		t.Fatal("the child stopped before readiness was checked")
	}
	os.WriteFile(n.gate, nil, 0o644)
	if err := pre.Wait(); err != nil || !strings.Contains(out.String(), "stopped") {
		t.Fatalf("prestop: %v %s", err, out)
	}
	n.ev.Wait(t, "fake-be-stopped", wait) // the BE finished its own stop
	if code := n.p.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, n.p.Log())
	}
}
