// Package broker_test runs the broker role as the operator runs it —
// broker_entrypoint.sh FE_ADDRS as PID 1 of a new PID namespace, the
// preStop broker_prestop.sh and the exec probe broker_is_alive.sh PORT, all
// links to the binary — on a sandbox DORIS_ROOT whose start_broker.sh execs a
// fake broker (test/helper fake-broker on broker_ipc_port), against a fake
// FE (test/fakedoris: SHOW BROKER, ALTER SYSTEM ADD BROKER).
package broker_test

import (
	"bytes"
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
	fqdn   = "doris-broker-0.doris-broker-internal.test"
)

var debugAnn = map[string]string{podinfo.KeyRunmode: "debug"}

// pod is a broker pod's DORIS_ROOT, podinfo and FE.
type pod struct {
	root, podinfo, conf string
	orig                []byte
	port                int // broker_ipc_port
	ev                  *harness.Events
	cluster             *fakedoris.Cluster
	feAddrs             string
}

func newPod(t *testing.T, noMaster bool, ann map[string]string) *pod {
	t.Helper()
	p := &pod{root: t.TempDir(), port: harness.FreePort(t, offset), ev: harness.NewEvents(t), cluster: fakedoris.NewCluster(fakedoris.Layout21)}
	p.cluster.AddFrontend(fakedoris.Frontend{Host: "doris-fe-0.test", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	p.cluster.SetNoMaster(noMaster)
	dead := harness.FreePort(t, 0) // nothing listens: the next address is asked
	p.feAddrs = "127.0.0.1:" + strconv.Itoa(dead) + "," + fakedoris.ServeT(t, p.cluster, "doris-fe-0.test")
	home := filepath.Join(p.root, "apache_hdfs_broker")
	for _, d := range []string{"bin", "conf"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.conf = filepath.Join(home, "conf", "apache_hdfs_broker.conf")
	p.orig = []byte(fmt.Sprintf("# the thrift rpc port\nbroker_ipc_port = %d\n\n# client session expiry\nclient_expire_seconds = 300\n", p.port))
	if err := os.WriteFile(p.conf, p.orig, 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s fake-broker \"$DORIS_ROOT/apache_hdfs_broker/conf/apache_hdfs_broker.conf\" \"$@\"\n", helper)
	if err := os.WriteFile(filepath.Join(home, "bin", "start_broker.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p.podinfo = filepath.Join(p.root, "podinfo")
	p.annotate(t, ann)
	return p
}

func (p *pod) annotate(t *testing.T, ann map[string]string) {
	t.Helper()
	if err := podinfotest.Write(p.podinfo, ann, map[string]string{"app.kubernetes.io/component": "broker"}); err != nil {
		t.Fatal(err)
	}
}

// start runs broker_entrypoint.sh FE_ADDRS as PID 1.
func (p *pod) start(t *testing.T) *harness.Proc {
	t.Helper()
	return harness.Start(t, harness.Options{
		Bin: entrypoint, Argv0: "broker_entrypoint.sh", Args: []string{p.feAddrs}, PID1: true,
		Env: []string{p.ev.Env(), "DORIS_ROOT=" + p.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + p.podinfo, "POD_FQDN=" + fqdn,
			"CONFIGMAP_MOUNT_PATH=" + filepath.Join(p.root, "none"), "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=" + strconv.Itoa(offset)},
	})
}

// link runs the binary as the operator's name for it (broker_is_alive.sh,
// broker_prestop.sh) and returns its exit code and output.
func (p *pod) link(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	l := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(entrypoint, l); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(l, args...)
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+p.root)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// alive is the operator's liveness probe: broker_is_alive.sh broker_ipc_port.
func (p *pod) alive(t *testing.T) bool {
	t.Helper()
	code, out := p.link(t, "broker_is_alive.sh", strconv.Itoa(p.port))
	if code != 0 && code != 1 {
		t.Fatalf("broker_is_alive.sh: exit %d\n%s", code, out)
	}
	return code == 0
}

func (p *pod) adds() []string {
	var out []string
	for _, s := range p.cluster.Statements() {
		if strings.Contains(s, "ADD BROKER") {
			out = append(out, s)
		}
	}
	return out
}

func (p *pod) assertRestored(t *testing.T) {
	t.Helper()
	if b, _ := os.ReadFile(p.conf); !bytes.Equal(b, p.orig) {
		t.Errorf("conf not restored byte for byte:\n%q\nwant\n%q", b, p.orig)
	}
	if _, err := os.Stat(p.conf + ".doris-entrypoint-debug"); err == nil {
		t.Error("marker left behind")
	}
}

// A first start registers the broker (SHOW BROKER first, the dead FE
// address skipped) and then runs start_broker.sh without arguments; the
// liveness probe passes while it listens; broker_prestop.sh stops it
// gracefully and returns 0; a restart finds it registered and adds nothing.
func TestBrokerRegistersStartsAndStops(t *testing.T) {
	p := newPod(t, false, nil)
	for run := 1; run <= 2; run++ {
		proc := p.start(t)
		if line := p.ev.WaitN(t, "fake-broker "+fqdn, run, wait); strings.TrimSpace(line) != "fake-broker "+fqdn {
			t.Fatalf("start_broker.sh started as %q, want no arguments", line)
		}
		proc.WaitLog(t, "broker registered", wait)
		want := "ALTER SYSTEM ADD BROKER `broker001` \"" + fqdn + ":" + strconv.Itoa(p.port) + "\""
		if adds := p.adds(); len(adds) != 1 || adds[0] != want {
			t.Fatalf("run %d: ADD statements %q, want one %q", run, adds, want)
		}
		if st := p.cluster.Statements(); !strings.HasPrefix(st[0], "SHOW BROKER") {
			t.Fatalf("first statement %q, want SHOW BROKER", st[0])
		}
		harness.WaitFor(t, "broker_is_alive.sh to pass", wait, func() bool { return p.alive(t) })

		code, out := p.link(t, "broker_prestop.sh")
		if code != 0 || !strings.Contains(out, "stopped") {
			t.Fatalf("broker_prestop.sh: exit %d\n%s", code, out)
		}
		if code := proc.Wait(t, wait); code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, proc.Log())
		}
		p.ev.WaitN(t, "fake-broker-stopped "+fqdn, run, wait) // a graceful stop: the JVM saw SIGTERM
		if p.alive(t) {
			t.Fatal("broker_is_alive.sh passes after the stop")
		}
	}
}

// A broker waiting for an FE master enters debug mode at once: the conf's
// broker_ipc_port moves by the offset, the original is held (accept and
// close) so broker_is_alive.sh passes and the pod is not restarted, the
// broker is not started. Removed: the wait resumes, it registers once a
// master is there, starts on the original port, conf restored byte for byte.
func TestBrokerDebugRoundTrip(t *testing.T) {
	p := newPod(t, true, nil)
	proc := p.start(t)
	proc.WaitLog(t, "waiting for an FE master to register the broker", wait)
	p.annotate(t, debugAnn)
	proc.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	if b, _ := os.ReadFile(p.conf); !bytes.Contains(b, []byte(fmt.Sprintf("broker_ipc_port = %d\n", p.port+offset))) {
		t.Errorf("broker_ipc_port not moved:\n%s", b)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.port), 5*time.Second)
	if err != nil {
		t.Fatalf("broker_ipc_port not held: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Errorf("held port answered %q, %v; want accept and close", b, err)
	}
	c.Close()
	if !p.alive(t) {
		t.Error("broker_is_alive.sh fails in debug mode: kubelet would restart the pod")
	}
	if p.ev.Has("fake-broker ") || len(p.adds()) != 0 {
		t.Fatal("started or registered without a master")
	}

	p.cluster.SetNoMaster(false)
	p.annotate(t, nil)
	p.ev.Wait(t, "fake-broker "+fqdn, wait)
	p.assertRestored(t)
	if bs := p.cluster.Brokers(); len(bs) != 1 || bs[0].Port != p.port || bs[0].Host != fqdn {
		t.Fatalf("brokers %+v, want %s:%d", bs, fqdn, p.port)
	}
	harness.WaitFor(t, "broker_is_alive.sh to pass", wait, func() bool { return p.alive(t) })
	proc.Signal(t, syscall.SIGTERM)
	if code := proc.Wait(t, wait); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, proc.Log())
	}
}

// SIGTERM while the broker waits for a master ends the wait at once.
func TestBrokerSIGTERMWhileWaiting(t *testing.T) {
	p := newPod(t, true, nil)
	proc := p.start(t)
	proc.WaitLog(t, "waiting for an FE master to register the broker", wait)
	start := time.Now()
	proc.Signal(t, syscall.SIGTERM)
	if code := proc.Wait(t, wait); code != 143 {
		t.Fatalf("exit %d, want 143; log:\n%s", code, proc.Log())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("SIGTERM took %s to end the wait", el)
	}
	if p.ev.Has("fake-broker ") {
		t.Fatal("the broker was started")
	}
}
