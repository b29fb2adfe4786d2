// Package upgrade tests `doris-entrypoint upgrade` and the FE supervisors'
// upgrade guard on the built binary: the commands as kubectl exec runs them
// (the pod's environment, its service account mounted where kubelet mounts
// it, a fake kube-apiserver over TLS keeping the record ConfigMap), the FE
// supervisor as PID 1 of its own PID namespace, the cluster a fake Doris
// (test/fakedoris) whose FEs listen on loopback addresses of their own, so
// that the master's own query port is asked, and a master failover is
// SetMaster.
package upgrade_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/fakekube"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var entrypoint, helper string

func TestMain(m *testing.M) { harness.Main(m, &entrypoint, &helper) }

const wait = 30 * time.Second

func feIP(i int) string { return fmt.Sprintf("127.0.0.%d", i+1) }

func beHost(i int) string {
	return fmt.Sprintf("doris-be-%d.doris-be-internal.doris.svc.cluster.local", i)
}

// guarded is the FE whose supervisor runs under test: a follower, not the
// master.
const guarded = "doris-fe-2.doris-fe-internal.doris.svc.cluster.local"

// fakeCluster: FEs 0 and 1 on 127.0.0.1 and .2 (0 the master; followers
// of them the first followers), the guarded FE's row when feConf is set
// (its edit_log and query ports), 3 BEs, a table of replication repl.
func fakeCluster(t *testing.T, followers, repl int, guardedPorts map[string]int) (*fakedoris.Cluster, string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	var addrs []string
	for i := 0; i < 2; i++ {
		role := "OBSERVER"
		if i < followers {
			role = "FOLLOWER"
		}
		addrs = append(addrs, fakedoris.ServeFrontendT(t, c, feIP(i), role, i == 0))
	}
	if guardedPorts != nil {
		c.AddFrontend(fakedoris.Frontend{Host: guarded, EditLogPort: guardedPorts["edit_log_port"], QueryPort: guardedPorts["query_port"],
			Role: "FOLLOWER", Alive: true, Join: true})
	}
	for i := 0; i < 3; i++ {
		c.AddBackend(fakedoris.Backend{Host: beHost(i), HeartbeatPort: 9050, Alive: true, NodeRole: "mix"})
	}
	if err := c.AddTable("sales", "orders", fakedoris.Partition{Name: "p1", ReplicationNum: repl, Buckets: 3},
		fakedoris.Partition{Name: "p2", ReplicationNum: repl, Buckets: 3}); err != nil {
		t.Fatal(err)
	}
	return c, strings.Join(addrs, ",")
}

func flags(c *fakedoris.Cluster) string {
	var out []string
	for _, k := range []string{"disable_balance", "disable_colocate_balance", "disable_tablet_scheduler"} {
		v, _ := c.FrontendConfig(k)
		out = append(out, v)
	}
	return strings.Join(out, ",")
}

const allOn, allOff = "true,true,true", "false,false,false"

// api is the fake kube-apiserver of the guarded FE's pod, over TLS: the
// environment and service account a process in that pod finds.
type api struct {
	srv *fakekube.Server
	env []string
	sa  string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{srv: &fakekube.Server{Pod: fakekube.NewPod("doris", "doris-fe-2")}}
	kenv, sa := fakekube.StartTLS(t, a.srv)
	a.env, a.sa = append(kenv, "DORIS_ENTRYPOINT_KUBE=on", "POD_NAME=doris-fe-2", "POD_NAMESPACE=doris"), sa
	return a
}

func (a *api) recorded() bool {
	m, _ := a.srv.ConfigMapData(kubeapi.UpgradeConfigMap)
	_, ok := m["cluster-"+fakedoris.ClusterID]
	return ok
}

// upgrade runs `doris-entrypoint upgrade ARGS` as kubectl exec would in the
// pod (with a: its service account and API; without: none), and returns its
// exit code and output.
func upgrade(t *testing.T, a *api, fe string, env []string, args ...string) (int, string) {
	t.Helper()
	o := harness.Options{Bin: entrypoint, Args: append([]string{"upgrade"}, args...), Env: append([]string{"ENV_FE_ADDR=" + fe}, env...)}
	if a != nil {
		o.PID1, o.ServiceAccount, o.Env = true, a.sa, append(o.Env, a.env...)
	} else {
		o.Env = append(o.Env, "DORIS_ENTRYPOINT_KUBE=off")
	}
	p := harness.Start(t, o)
	code := p.Wait(t, wait)
	return code, p.Log()
}

// `upgrade check`: single-replica partitions counted and named, a single
// follower warned, a skipped minor version refused with --to; exit 0 when
// safe, 1 when not.
func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		followers int
		repl      int
		args      []string
		code      int
		want      []string
	}{
		{name: "safe", followers: 2, repl: 3, args: []string{"--to", "doris-2.1.7"}, code: 0,
			want: []string{"verdict: safe", "2 FE followers", "single-replica partitions: 0"}},
		{name: "single replica", followers: 2, repl: 1, code: 1,
			want: []string{"single-replica partitions: 2 (sales.orders.p1, sales.orders.p2)", "UNSAFE:", "verdict: NOT SAFE"}},
		{name: "single follower", followers: 1, repl: 3, code: 0, want: []string{"WARNING: a single FE follower", "verdict: safe"}},
		{name: "minor skip", followers: 2, repl: 3, args: []string{"--to", "doris-2.3.1"}, code: 1,
			want: []string{"2.1 → 2.3 skips 2.2", "verdict: NOT SAFE"}},
		{name: "json", followers: 2, repl: 1, args: []string{"--json"}, code: 1, want: []string{`"single_replica_partitions": 2`, `"safe": false`}},
		{name: "unparsable to", followers: 2, repl: 3, args: []string{"--to", "latest"}, code: 2, want: []string{`--to: unparsable Doris version "latest"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fe := fakeCluster(t, tt.followers, tt.repl, nil)
			code, out := upgrade(t, nil, fe, nil, append([]string{"check"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// startFE runs `fe FE_ADDRS` as PID 1 for the guarded FE, with metadata
// (it starts as a member) and a fake FE that forwards to the master; ev
// sees the fake FE start.
func startFE(t *testing.T, a *api, fe, masterAddr string, ports map[string]int, env ...string) (*harness.Proc, *harness.Events, string) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"fe/bin", "fe/conf", "fe/doris-meta/image", "podinfo", "fake"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var conf strings.Builder
	for k, v := range ports {
		fmt.Fprintf(&conf, "%s = %d\n", k, v)
	}
	files := map[string]string{
		"fe/conf/fe.conf":          conf.String() + "enable_fqdn_mode = true\n",
		"fe/doris-meta/image/ROLE": "role=FOLLOWER\n",
		"fake/master":              masterAddr, // the fake FE forwards every statement to it
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s fake-fe \"$DORIS_ROOT/fe/conf/fe.conf\" \"$@\"\n", helper)
	if err := os.WriteFile(filepath.Join(root, "fe/bin/start_fe.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ev := harness.NewEvents(t)
	p := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"fe", fe}, PID1: true, ServiceAccount: a.sa,
		Env: append([]string{ev.Env(), "DORIS_ROOT=" + root, "POD_FQDN=" + guarded, "FAKE_DIR=" + filepath.Join(root, "fake"),
			"DORIS_ENTRYPOINT_PODINFO_DIR=" + filepath.Join(root, "podinfo"), "CONFIGMAP_MOUNT_PATH=" + filepath.Join(root, "none"),
			"DORIS_ENTRYPOINT_PROBE_INTERVAL=200ms", "DORIS_ENTRYPOINT_STOP_TIMEOUT=10s"}, append(a.env, env...)...)})
	return p, ev, root
}

func events(a *api, reason string) int {
	n := 0
	for _, r := range a.srv.EventReasons() {
		if r == reason {
			n++
		}
	}
	return n
}

// begin → the flags on, the record in the ConfigMap; the master restarts
// before the FE supervisor starts, and fails over while it runs: each
// time the flags are on again on the master (log line, Event); status says
// what runs next; end refuses until every node runs the new version, then
// turns the flags off and removes the record.
func TestBeginFailoverStatusEnd(t *testing.T) {
	ports := map[string]int{"query_port": harness.FreePort(t, 0), "http_port": harness.FreePort(t, 0), "edit_log_port": harness.FreePort(t, 0)}
	c, fe := fakeCluster(t, 2, 3, ports)
	a := newAPI(t)

	code, out := upgrade(t, a, fe, nil, "begin", "--to", "doris-2.1.7")
	if code != 0 || flags(c) != allOn || !a.recorded() || events(a, "UpgradeBegun") != 1 {
		t.Fatalf("begin: exit %d, flags %s, recorded %v, events %v:\n%s", code, flags(c), a.recorded(), a.srv.EventReasons(), out)
	}

	c.RestartMaster() // the flags are back to false on the master
	p, ev, _ := startFE(t, a, fe, strings.Split(fe, ",")[0], ports)
	ev.Wait(t, "fake-fe "+guarded, wait)
	p.WaitLog(t, "upgrade guard: flags re-applied on the master", wait)
	if flags(c) != allOn {
		t.Fatalf("flags %s after the FE's start", flags(c))
	}
	c.SetMaster(feIP(1))
	e := p.WaitLogN(t, "upgrade guard: flags re-applied on the master", 2, wait)
	harness.WaitFor(t, "two UpgradeFlagsReapplied Events", wait, func() bool { return events(a, "UpgradeFlagsReapplied") == 2 })
	if flags(c) != allOn {
		t.Fatalf("flags %s after the failover", flags(c))
	}
	if last := p.Find("upgrade guard: flags re-applied on the master"); last[1]["why"] != "the master changed from "+feIP(0)+":9010" {
		t.Errorf("the second re-apply says %v (first %v)", last[1], e)
	}

	for i := 0; i < 3; i++ {
		c.SetVersion(beHost(i), "doris-2.1.7")
	}
	code, out = upgrade(t, a, fe, nil, "status")
	for _, w := range []string{"next: FE: 3 of 3 not on 2.1.7", "the master (" + feIP(1) + ") last", "flags on the master", ": on (", "be 3× doris-2.1.7"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("status (exit %d) lacks %q:\n%s", code, w, out)
		}
	}
	code, out = upgrade(t, a, fe, nil, "end")
	if code != 1 || !strings.Contains(out, "the nodes run 2 versions") || flags(c) != allOn || !a.recorded() {
		t.Fatalf("end before the FEs: exit %d, flags %s, recorded %v:\n%s", code, flags(c), a.recorded(), out)
	}
	for _, h := range []string{feIP(0), feIP(1), guarded} {
		c.SetVersion(h, "doris-2.1.7")
	}
	code, out = upgrade(t, a, fe, nil, "end")
	if code != 0 || flags(c) != allOff || a.recorded() || events(a, "UpgradeEnded") != 1 {
		t.Fatalf("end: exit %d, flags %s, recorded %v, events %v:\n%s", code, flags(c), a.recorded(), a.srv.EventReasons(), out)
	}
	p.WaitLog(t, "upgrade guard: the upgrade record is gone; the flags are no longer kept on", wait)
	p.Signal(t, syscall.SIGTERM)
	p.Wait(t, wait)
	if n := events(a, "UpgradeFlagsReapplied"); n != 2 || flags(c) != allOff {
		t.Errorf("after end: %d re-applies, flags %s", n, flags(c))
	}
}

// The order guard: an FE on a newer line than the BEs waits (Warning
// UpgradeOrder) until they report it, or starts anyway at the bound (a
// second Warning); an FE that restarts on another version than the cluster
// lists for it while nothing is recorded posts UpgradeWithoutBegin.
func TestUpgradeOrder(t *testing.T) {
	tests := []struct {
		name       string
		version    string
		wait       string
		recorded   bool
		upgradeBEs bool // the BEs report the FE's version while it waits
		order      int  // UpgradeOrder Events
		without    bool
		log        string
		setup      func(c *fakedoris.Cluster)
		notAlive   int // UpgradeOrderNotAlive Events
	}{
		{name: "waits for the bes", version: "doris-3.0.3", wait: "60s", recorded: true, upgradeBEs: true, order: 1,
			log: "upgrade order: every BE/CN runs this FE's line; starting"},
		{name: "bound", version: "doris-3.0.3", wait: "1s", recorded: true, order: 2, log: "upgrade order: the wait ended; starting anyway"},
		{name: "without begin", version: "doris-2.1.7", wait: "60s", without: true,
			log: "upgrade without upgrade begin: this node restarts on another version than the cluster lists for it"},
		// A BE that is dead on the old line is named, not waited for: the
		// FE starts at once although the bound is a minute.
		{name: "dead old be", version: "doris-3.0.3", wait: "60s", recorded: true, notAlive: 1,
			log: "upgrade order: BE/CN on an older line are not alive; not waiting for them",
			setup: func(c *fakedoris.Cluster) {
				c.SetBackendsVersion("doris-3.0.3")
				c.SetVersion(beHost(1), fakedoris.DefaultVersion)
				c.SetAlive(beHost(1), false)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := map[string]int{"query_port": harness.FreePort(t, 0), "http_port": harness.FreePort(t, 0), "edit_log_port": harness.FreePort(t, 0)}
			c, fe := fakeCluster(t, 2, 3, ports)
			a := newAPI(t)
			if tt.recorded {
				a.srv.SetConfigMapData(kubeapi.UpgradeConfigMap, "cluster-"+fakedoris.ClusterID,
					`{"cluster_id":"`+fakedoris.ClusterID+`","begun_at":"2026-01-02T03:04:05Z","from":{}}`)
			}
			if tt.setup != nil {
				tt.setup(c)
			}
			p, ev, root := startFE(t, a, fe, strings.Split(fe, ",")[0], ports,
				"DORIS_ENTRYPOINT_DORIS_VERSION="+tt.version, "DORIS_ENTRYPOINT_UPGRADE_WAIT="+tt.wait)
			if tt.upgradeBEs {
				harness.WaitFor(t, "Warning UpgradeOrder", wait, func() bool { return events(a, "UpgradeOrder") == 1 })
				if ev.Has("fake-fe ") {
					t.Fatalf("the FE started before the BEs were upgraded; log:\n%s", p.Log())
				}
				c.SetBackendsVersion(tt.version)
			}
			ev.Wait(t, "fake-fe "+guarded, wait)
			p.WaitLog(t, tt.log, wait)
			// status shows the node's own version.
			st := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"status"}, Env: []string{"DORIS_ROOT=" + root}})
			if st.Wait(t, wait); !strings.Contains(st.Log(), "doris:     "+tt.version) {
				t.Errorf("status lacks the version %s:\n%s", tt.version, st.Log())
			}
			harness.WaitFor(t, fmt.Sprintf("%d UpgradeOrder Events", tt.order), wait, func() bool { return events(a, "UpgradeOrder") == tt.order })
			harness.WaitFor(t, fmt.Sprintf("%d UpgradeOrderNotAlive Events", tt.notAlive), wait,
				func() bool { return events(a, "UpgradeOrderNotAlive") == tt.notAlive })
			if tt.without {
				harness.WaitFor(t, "Warning UpgradeWithoutBegin", wait, func() bool { return events(a, "UpgradeWithoutBegin") == 1 })
			} else if n := events(a, "UpgradeWithoutBegin"); n != 0 {
				t.Errorf("%d UpgradeWithoutBegin Events: %v", n, a.srv.EventReasons())
			}
		})
	}
}

// Bad input: one clear line, the flags where they were, and said.
func TestBadInput(t *testing.T) {
	closed := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, c *fakedoris.Cluster, a *api) (fe string, env []string)
		args  []string
		code  int
		want  []string
		never string
	}{
		{name: "fe unreachable", args: []string{"status"}, code: 1,
			setup: func(t *testing.T, _ *fakedoris.Cluster, _ *api) (string, []string) { return closed(t), nil },
			want:  []string{"flags on the master: unknown", "cannot read the cluster: no FE answered"}},
		{name: "wrong password", args: []string{"begin"}, code: 1, never: "not-the-password",
			setup: func(_ *testing.T, c *fakedoris.Cluster, _ *api) (string, []string) {
				c.SetPassword("root", "root-secret")
				c.SetPassword("ops", "ops-secret")
				return "", []string{"USER=ops", "PASSWD=not-the-password"}
			},
			want: []string{"access denied for root, then ops"}},
		{name: "no rbac", args: []string{"begin"}, code: 1,
			setup: func(_ *testing.T, _ *fakedoris.Cluster, a *api) (string, []string) {
				a.srv.Mu.Lock()
				a.srv.ForbidConfigMaps = true
				a.srv.Mu.Unlock()
				return "", nil
			},
			want: []string{"refused: the upgrade could not be recorded", "images/deploy/rbac.yaml", "the flags were not touched"}},
		{name: "corrupt record", args: []string{"status"}, code: 0,
			setup: func(_ *testing.T, _ *fakedoris.Cluster, a *api) (string, []string) {
				a.srv.SetConfigMapData(kubeapi.UpgradeConfigMap, "cluster-"+fakedoris.ClusterID, "{half")
				return "", nil
			},
			want: []string{"upgrade record: present but unreadable", "flags on the master", "off ("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fe := fakeCluster(t, 2, 3, nil)
			a := newAPI(t)
			alt, env := tt.setup(t, c, a)
			if alt != "" {
				fe = alt
			}
			code, out := upgrade(t, a, fe, env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.never != "" && strings.Contains(out, tt.never) {
				t.Errorf("output shows %q:\n%s", tt.never, out)
			}
			if flags(c) != allOff || slices.Contains(a.srv.EventReasons(), "UpgradeBegun") {
				t.Errorf("flags %s, events %v", flags(c), a.srv.EventReasons())
			}
		})
	}
}
