// Package scalein tests a scale-in on the built binary, as PID 1 of its own
// PID namespace: the pod's StatefulSet is served by a fake kube-apiserver
// (test/fakekube, over TLS, with a service account mounted where kubelet
// mounts it), the cluster by a fake FE (test/fakedoris), and the preStop
// hook is `doris-entrypoint prestop`, as the operator runs it.
package scalein_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/fakekube"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var entrypoint, helper string

func TestMain(m *testing.M) { harness.Main(m, &entrypoint, &helper) }

const wait = 30 * time.Second

func beHost(i int) string {
	return fmt.Sprintf("doris-be-%d.doris-be-internal.doris.svc.cluster.local", i)
}

const feHost = "doris-fe-0.doris-fe-internal.doris.svc.cluster.local"

// pod is one BE/CN pod: its sandbox, its fake API, its supervisor.
type pod struct {
	root, name string
	hb         int
	api        *fakekube.Server
	ev         *harness.Events
	p          *harness.Proc
}

// startBE runs `be FE` for ordinal ord as PID 1, its StatefulSet at
// replicas; api says whether the pod may use the API.
func startBE(t testing.TB, fe string, ord, hb int, role string, replicas int32, api bool, extraEnv ...string) *pod {
	t.Helper()
	var srv *fakekube.Server
	if api {
		srv = &fakekube.Server{Pod: fakekube.NewPod("doris", fmt.Sprintf("doris-be-%d", ord))}
	}
	return startBEOn(t, srv, fe, ord, hb, role, replicas, extraEnv...)
}

// startBEOn is startBE with the pod's API served by srv (nil: no API).
func startBEOn(t testing.TB, srv *fakekube.Server, fe string, ord, hb int, role string, replicas int32, extraEnv ...string) *pod {
	t.Helper()
	api := srv != nil
	if !api {
		srv = &fakekube.Server{Pod: fakekube.NewPod("doris", fmt.Sprintf("doris-be-%d", ord))}
	}
	pd := &pod{root: t.TempDir(), name: fmt.Sprintf("doris-be-%d", ord), hb: hb, ev: harness.NewEvents(t)}
	for _, d := range []string{"be/bin", "be/conf", "podinfo"} {
		if err := os.MkdirAll(filepath.Join(pd.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf("heartbeat_service_port = %d\nwebserver_port = %d\nbe_node_role = %s\n", hb, harness.FreePort(t, 0), role)
	if err := os.WriteFile(filepath.Join(pd.root, "be/conf/be.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// As start_be.sh --console runs the BE: a child that SIGTERM ends (143).
	script := fmt.Sprintf("#!/bin/sh\ntrap 'kill -TERM $pid; wait $pid; exit 143' TERM\n%s fake-be \"$DORIS_ROOT/be/conf/be.conf\" &\npid=$!\nwait $pid\n", helper)
	if err := os.WriteFile(filepath.Join(pd.root, "be/bin/start_be.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	pd.api = srv
	pd.api.SetStatefulSet("doris-be", replicas, false)
	env := []string{pd.ev.Env(), "DORIS_ROOT=" + pd.root, "POD_FQDN=" + beHost(ord), "POD_NAME=" + pd.name, "POD_NAMESPACE=doris",
		"DORIS_ENTRYPOINT_PODINFO_DIR=" + filepath.Join(pd.root, "podinfo"), "CONFIGMAP_MOUNT_PATH=" + filepath.Join(pd.root, "none"),
		"DORIS_ENTRYPOINT_STOP_TIMEOUT=20s"}
	env = append(env, extraEnv...)
	o := harness.Options{Bin: entrypoint, Args: []string{"be", fe}, PID1: true}
	if api {
		kenv, sa := fakekube.StartTLS(t, pd.api)
		env = append(append(env, kenv...), "DORIS_ENTRYPOINT_KUBE=on")
		o.ServiceAccount = sa
	} else {
		env = append(env, "DORIS_ENTRYPOINT_KUBE=off")
	}
	o.Env = env
	pd.p = harness.Start(t, o)
	pd.ev.Wait(t, "fake-be "+beHost(ord), wait)
	return pd
}

// prestop runs the operator's preStop hook and waits for PID 1 to exit.
func (pd *pod) prestop(t testing.TB) {
	t.Helper()
	hook := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"prestop"}, Env: []string{"DORIS_ROOT=" + pd.root}})
	if code := hook.Wait(t, wait); code != 0 {
		t.Fatalf("prestop exited %d:\n%s\nsupervisor:\n%s", code, hook.Log(), pd.p.Log())
	}
	select {
	case <-pd.p.Done():
	case <-time.After(wait):
		t.Fatalf("the supervisor did not exit; log:\n%s", pd.p.Log())
	}
}

// fakeCluster: an FE master, backends 0..n-1 (the last one the pod under
// test, registered already), a table of 30 tablets.
func fakeCluster(t testing.TB, n, replication int, hbs []int, roles []string) (*fakedoris.Cluster, string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: feHost, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	for i := 0; i < n; i++ {
		c.AddBackend(fakedoris.Backend{Host: beHost(i), HeartbeatPort: hbs[i], Alive: true, NodeRole: roles[i]})
	}
	if err := c.AddTable("sales", "orders", fakedoris.Partition{Name: "p1", ReplicationNum: replication, Buckets: 30}); err != nil {
		t.Fatal(err)
	}
	c.SetDecommissionRate(200)
	// The FE drops an emptied backend at its next round, 3 s from now:
	// after the drains, which take well under a second.
	c.SetAlterInterval(3 * time.Second)
	return c, fakedoris.ServeT(t, c, feHost)
}

// listedAfterRound is listed once the FE's next SystemHandler round has
// passed (a BE may stop once it is empty, before the FE drops its row).
func listedAfterRound(c *fakedoris.Cluster, host string) bool {
	for end := time.Now().Add(10 * time.Second); listed(c, host) && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	return listed(c, host)
}

// mixBackends are the heartbeat ports (free) and roles of n mix backends.
func mixBackends(t testing.TB, n int) ([]int, []string) {
	t.Helper()
	hbs, roles := make([]int, n), make([]string, n)
	for i := range hbs {
		hbs[i], roles[i] = harness.FreePort(t, 0), "mix"
	}
	return hbs, roles
}

func listed(c *fakedoris.Cluster, host string) bool {
	for _, be := range c.Backends() {
		if be.Host == host {
			return true
		}
	}
	return false
}

// BE 3→2 with single-replica tablets: decommissioned, dropped by the FE,
// nothing lost; refused when 3 replicas need 3 backends; a restart
// (ordinal below replicas) does nothing new; without API access, as before
// and one line why; a CN drops itself: no dead entry. (Short names: the
// control socket's path must fit a sockaddr_un.)
func TestScaleIn(t *testing.T) {
	tests := []struct {
		name        string
		backends    int // the pod under test is the last
		replication int
		replicas    int32
		api         bool
		role        string
		wantEvents  []string
		wantLog     string
		gone        bool
	}{
		{name: "be 3to2 single replica",
			backends: 3, replication: 1, replicas: 2, api: true, role: "mix",
			wantEvents: []string{"DecommissionStarted", "DecommissionDone"}, wantLog: "decommission done", gone: true},
		// code 0: the BE left the cluster; 143 otherwise (its child ended by SIGTERM), as before.
		{name: "be refused 3 replicas", backends: 3, replication: 3, replicas: 2, api: true, role: "mix",
			wantEvents: []string{"ScaleInUnsafe"}, wantLog: "scale-in unsafe: not decommissioning; stopping as before"},
		{name: "restart", backends: 3, replication: 1, replicas: 3, api: true, role: "mix"},
		{name: "no api", backends: 3, replication: 1, replicas: 2, api: false, role: "mix",
			wantLog: "no API access: a scale-in cannot be recognised; stopping as before"},
		{name: "cn drops itself", backends: 3, replication: 1, replicas: 2, api: true, role: "computation",
			wantEvents: []string{"ComputeNodeDropped"}, wantLog: "scale-in: compute node dropped", gone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hbs, roles := make([]int, tt.backends), make([]string, tt.backends)
			for i := range hbs {
				hbs[i], roles[i] = harness.FreePort(t, 0), "mix"
			}
			self := tt.backends - 1
			roles[self] = tt.role
			if tt.role == "computation" { // a CN holds nothing: the table lives on the mix ones
				roles[self-1] = "mix"
			}
			c, fe := fakeCluster(t, tt.backends, tt.replication, hbs, roles)
			pd := startBE(t, fe, self, hbs[self], tt.role, tt.replicas, tt.api)
			pd.prestop(t)
			want := 143
			if tt.gone && tt.role == "mix" {
				want = 0
			}
			if code := pd.p.Wait(t, wait); code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
			got := pd.api.EventReasons()
			for _, want := range tt.wantEvents {
				if !slices.Contains(got, want) {
					t.Errorf("Events %q lack %s", got, want)
				}
			}
			if tt.wantLog != "" && len(pd.p.Find(tt.wantLog)) == 0 {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, pd.p.Log())
			}
			if g := !listedAfterRound(c, beHost(self)); g != tt.gone {
				t.Errorf("gone from SHOW BACKENDS: %v, want %v", g, tt.gone)
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Errorf("%d tablets lost", lost)
			}
			for _, s := range c.Statements() {
				if strings.Contains(s, "DROPP") && tt.role != "computation" || strings.Contains(s, "DROP BACKEND") {
					t.Errorf("a drop of a backend that holds tablets: %q", s)
				}
				if strings.Contains(s, "DECOMMISSION") && !tt.gone {
					t.Errorf("decommissioned, yet it should not be: %q", s)
				}
			}
		})
	}
}

// 5→3: the pods of ordinals 3 and 4 get their preStop at once (Parallel
// pod management); both decommission, nothing is lost.
func TestScaleInParallel(t *testing.T) {
	hbs, roles := make([]int, 5), make([]string, 5)
	for i := range hbs {
		hbs[i], roles[i] = harness.FreePort(t, 0), "mix"
	}
	c, fe := fakeCluster(t, 5, 3, hbs, roles)
	pods := []*pod{startBE(t, fe, 3, hbs[3], "mix", 3, true), startBE(t, fe, 4, hbs[4], "mix", 3, true)}
	done := make(chan struct{})
	for _, pd := range pods {
		go func() {
			defer func() { done <- struct{}{} }()
			pd.prestop(t)
		}()
	}
	<-done
	<-done
	for i, pd := range pods {
		if !slices.Contains(pd.api.EventReasons(), "DecommissionDone") || listedAfterRound(c, beHost(3+i)) {
			t.Errorf("be-%d: events %q, listed %v; log:\n%s", 3+i, pd.api.EventReasons(), listed(c, beHost(3+i)), pd.p.Log())
		}
	}
	if lost := c.LostTablets(); lost != 0 {
		t.Fatalf("%d tablets lost", lost)
	}
}

// The stop budget ends before the decommission: the BE stops decommissioned
// (DecommissionIncomplete, nothing dropped); scaled back out, its next start
// cancels the decommission.
func TestScaleInBudgetThenScaledBackOut(t *testing.T) {
	hbs, roles := mixBackends(t, 3)
	c, fe := fakeCluster(t, 3, 1, hbs, roles)
	c.SetDecommissionRate(0.5) // 10 tablets: 20 s; the budget: 8 s less the child's 5 s
	pd := startBE(t, fe, 2, hbs[2], "mix", 2, true, "DORIS_ENTRYPOINT_STOP_TIMEOUT=8s")
	stopped := make(chan struct{})
	go func() { defer close(stopped); pd.prestop(t) }()
	// While it decommissions, `status` (what a person runs through kubectl
	// exec) shows how far it has come.
	harness.WaitFor(t, "status showing the decommission", wait, func() bool {
		st := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"status"}, Env: []string{"DORIS_ROOT=" + pd.root}})
		st.Wait(t, wait)
		return strings.Contains(st.Log(), "scale-in:  decommission started (ordinal 2, 2 replicas):") && strings.Contains(st.Log(), "tablets left")
	})
	<-stopped
	if !slices.Contains(pd.api.EventReasons(), "DecommissionIncomplete") || !listed(c, beHost(2)) {
		t.Fatalf("events %q, listed %v; log:\n%s", pd.api.EventReasons(), listed(c, beHost(2)), pd.p.Log())
	}
	back := startBE(t, fe, 2, hbs[2], "mix", 3, true)
	back.p.WaitLog(t, "decommission cancelled: this backend stays", wait)
	if !slices.Contains(back.api.EventReasons(), "DecommissionCancelled") {
		t.Fatalf("events %q", back.api.EventReasons())
	}
	for _, be := range c.Backends() {
		if be.Host == beHost(2) && be.Decommissioned {
			t.Fatal("still decommissioned")
		}
	}
	if lost := c.LostTablets(); lost != 0 {
		t.Fatalf("%d tablets lost", lost)
	}
}
