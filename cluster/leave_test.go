package cluster_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/testport"
)

const feMaster = "doris-fe-0.doris-fe-internal.doris.svc.cluster.local"

func podBE(i int) string {
	return fmt.Sprintf("doris-be-%d.doris-be-internal.doris.svc.cluster.local", i)
}
func feName(i int) string {
	return fmt.Sprintf("doris-fe-%d.doris-fe-internal.doris.svc.cluster.local", i)
}

// events records what a node posts.
type events struct {
	mu      sync.Mutex
	reasons []string
	msgs    []string
}

func (e *events) add(_, reason, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reasons = append(e.reasons, reason)
	e.msgs = append(e.msgs, msg)
}

func (e *events) has(reason string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.reasons {
		if r == reason {
			return true
		}
	}
	return false
}

// backendCluster is an FE master and n mix backends, and one table with
// the given replication number (30 tablets).
func backendCluster(t *testing.T, n, replication int, cns ...int) (*fakedoris.Cluster, string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: feMaster, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	for i := 0; i < n; i++ {
		c.AddBackend(fakedoris.Backend{Host: podBE(i), Alive: true})
	}
	for _, i := range cns {
		c.AddBackend(fakedoris.Backend{Host: podBE(i), Alive: true, NodeRole: "computation"})
	}
	if err := c.AddTable("sales", "orders", fakedoris.Partition{Name: "p2026", ReplicationNum: replication, Buckets: 30}); err != nil {
		t.Fatal(err)
	}
	c.SetDecommissionRate(500)
	// The FE drops an emptied backend at its next round: well after the
	// drain, so that the node sees TabletNum 0 first (drain.go).
	c.SetAlterInterval(2 * time.Second)
	return c, fakedoris.ServeT(t, c, feMaster)
}

// node is a BE, CN or FE pod named host, placed at ordinal with replicas.
func node(t *testing.T, comp cluster.Component, host, fe string, p cluster.Placement, placeErr error, ev *events) *cluster.Node {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(comp.Conf)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, comp.Conf), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &cluster.Node{Component: comp, Root: root, Client: &cluster.Client{ConnectTimeout: time.Second, QueryTimeout: 2 * time.Second},
		FEAddrs: []string{fe}, PodFQDN: host,
		Leave: &cluster.Leave{Placement: func(context.Context) (cluster.Placement, error) { return p, placeErr }, Event: ev.add,
			Poll: 10 * time.Millisecond}}
}

func statements(c *fakedoris.Cluster, verb string) []string {
	var out []string
	for _, s := range c.Statements() {
		if strings.Contains(s, verb) {
			out = append(out, s)
		}
	}
	return out
}

// listedAfterRound is listed, once the FE's next round has dropped an
// emptied backend when gone is expected: a node may be done once it is
// empty, before the round (drain.go).
func listedAfterRound(c *fakedoris.Cluster, host string, gone bool) bool {
	for end := time.Now().Add(10 * time.Second); gone && listed(c, host) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	return listed(c, host)
}

func listed(c *fakedoris.Cluster, host string) bool {
	for _, be := range c.Backends() {
		if be.Host == host {
			return true
		}
	}
	return false
}

func TestBackendScaleIn(t *testing.T) {
	tests := []struct {
		name         string
		backends     int
		replication  int
		ordinal      int
		replicas     int
		placeErr     error
		feDown       bool   // FE_ADDRS unreachable
		host         string // the pod's FQDN, when not the ordinal's
		setup        func(c *fakedoris.Cluster)
		wantReason   string
		decommission bool // a DECOMMISSION is sent
		gone         bool // the backend left SHOW BACKENDS
	}{
		{name: "3→2 with single-replica tablets", backends: 3, replication: 1, ordinal: 2, replicas: 2,
			wantReason: "DecommissionDone", decommission: true, gone: true},
		{name: "3→2 with 2 replicas", backends: 3, replication: 2, ordinal: 2, replicas: 2,
			wantReason: "DecommissionDone", decommission: true, gone: true},
		{name: "refused: 3 backends, 3 replicas", backends: 3, replication: 3, ordinal: 2, replicas: 2, wantReason: "ScaleInUnsafe"},
		{name: "refused: tablet scheduler disabled", backends: 3, replication: 1, ordinal: 2, replicas: 2, wantReason: "ScaleInUnsafe",
			setup: func(c *fakedoris.Cluster) { c.SetFrontendConfig("disable_tablet_scheduler", true) }},
		{name: "refused: the other backends are dead", backends: 3, replication: 1, ordinal: 2, replicas: 2, wantReason: "ScaleInUnsafe",
			setup: func(c *fakedoris.Cluster) { c.SetAlive(podBE(0), false); c.SetAlive(podBE(1), false) }},
		{name: "a restart: ordinal below replicas", backends: 3, replication: 1, ordinal: 2, replicas: 3},
		{name: "StatefulSet unreadable", backends: 3, replication: 1, ordinal: 2, replicas: 2, placeErr: errors.New("forbidden")},
		{name: "FE unreachable", backends: 3, replication: 1, ordinal: 2, replicas: 2, feDown: true, wantReason: "ScaleInUnsafe"},
		{name: "wrong password", backends: 3, replication: 1, ordinal: 2, replicas: 2, wantReason: "ScaleInUnsafe",
			setup: func(c *fakedoris.Cluster) { c.SetPassword("root", "not-ours-Secret") }},
		{name: "the FE refuses the decommission", backends: 3, replication: 1, ordinal: 2, replicas: 2, wantReason: "ScaleInUnsafe", decommission: true,
			setup: func(c *fakedoris.Cluster) { c.RefuseStatements("DECOMMISSION", "Failed to decommission: disk is full") }},
		{name: "hostile host name", backends: 3, replication: 1, ordinal: 2, replicas: 2, host: `doris-be-2";ALTER SYSTEM DROPP BACKEND "x:1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fe := backendCluster(t, tt.backends, tt.replication)
			if tt.setup != nil {
				tt.setup(c)
			}
			before := c.TabletsOn(podBE(tt.ordinal))
			ev := &events{}
			host := cmp.Or(tt.host, podBE(tt.ordinal))
			if tt.feDown {
				fe = testport.Closed(t)
			}
			n := node(t, cluster.BE, host, fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: tt.ordinal, Replicas: tt.replicas}, tt.placeErr, ev)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n.BeforeStop(ctx)
			if tt.wantReason != "" && !ev.has(tt.wantReason) {
				t.Fatalf("events %q, want %s; %q", ev.reasons, tt.wantReason, ev.msgs)
			}
			if got := len(statements(c, "DECOMMISSION")) > 0; got != tt.decommission {
				t.Fatalf("decommission sent %v, want %v: %q", got, tt.decommission, c.Statements())
			}
			if got := !listedAfterRound(c, podBE(tt.ordinal), tt.gone); got != tt.gone {
				t.Fatalf("gone %v, want %v", got, tt.gone)
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Fatalf("%d tablets lost (%d were on it)", lost, before)
			}
			if d := statements(c, "DROP"); len(d) != 0 {
				t.Fatalf("a DROP: %q", d)
			}
		})
	}
}

// 5→3: ordinals 3 and 4 leave at once; each counts the remaining backends
// from replicas, not from who is alive now.
func TestBackendScaleInParallel(t *testing.T) {
	c, fe := backendCluster(t, 5, 3)
	var wg sync.WaitGroup
	evs := []*events{{}, {}}
	for i, ord := range []int{3, 4} {
		n := node(t, cluster.BE, podBE(ord), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: ord, Replicas: 3}, nil, evs[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n.BeforeStop(ctx)
		}()
	}
	wg.Wait()
	for i, ord := range []int{3, 4} {
		if !evs[i].has("DecommissionDone") || listedAfterRound(c, podBE(ord), true) {
			t.Errorf("be-%d: events %q, listed %v", ord, evs[i].reasons, listed(c, podBE(ord)))
		}
	}
	if lost := c.LostTablets(); lost != 0 {
		t.Fatalf("%d tablets lost", lost)
	}
}

// The budget ends first: the BE stops decommissioned, nothing is dropped;
// scaled back out, its next start cancels the decommission.
func TestDecommissionIncompleteThenCancelled(t *testing.T) {
	c, fe := backendCluster(t, 3, 1)
	c.SetDecommissionRate(1) // 10 tablets take 10 s; the budget is 300 ms
	ev := &events{}
	n := node(t, cluster.BE, podBE(2), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: 2, Replicas: 2}, nil, ev)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	n.BeforeStop(ctx)
	if !ev.has("DecommissionIncomplete") || !listed(c, podBE(2)) {
		t.Fatalf("events %q, listed %v", ev.reasons, listed(c, podBE(2)))
	}
	if d := statements(c, "DROP"); len(d) != 0 || c.LostTablets() != 0 {
		t.Fatalf("drop %q, lost %d", d, c.LostTablets())
	}
	// Scaled back out to 3: the start (registration) cancels it.
	back := node(t, cluster.BE, podBE(2), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: 2, Replicas: 3}, nil, ev)
	bctx, bcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer bcancel()
	if _, err := back.Bootstrap(bctx, nil); err != nil {
		t.Fatal(err)
	}
	if !ev.has("DecommissionCancelled") || len(statements(c, "CANCEL DECOMMISSION")) != 1 {
		t.Fatalf("events %q, statements %q", ev.reasons, c.Statements())
	}
	for _, be := range c.Backends() {
		if be.Host == podBE(2) && be.Decommissioned {
			t.Fatal("still decommissioned")
		}
	}
}

// A CN being removed drops itself after it stopped: no dead entry.
func TestComputeNodeScaleIn(t *testing.T) {
	c, fe := backendCluster(t, 1, 1, 1, 2) // be-0 mix; be-1, be-2 compute nodes
	ev := &events{}
	n := node(t, cluster.BE, podBE(2), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: 2, Replicas: 2}, nil, ev)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.BeforeStop(ctx)
	if len(statements(c, "DECOMMISSION")) != 0 {
		t.Fatal("a compute node decommissioned")
	}
	n.AfterStop(ctx)
	if listed(c, podBE(2)) || !ev.has("ComputeNodeDropped") {
		t.Fatalf("listed %v, events %q", listed(c, podBE(2)), ev.reasons)
	}
	// A mix BE is never dropped after its stop, whatever happens.
	m := node(t, cluster.BE, podBE(0), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: 0, Replicas: 0}, nil, ev)
	m.AfterStop(ctx)
	if !listed(c, podBE(0)) {
		t.Fatal("a mix backend dropped")
	}
}

func TestFrontendScaleIn(t *testing.T) {
	tests := []struct {
		name      string
		followers int // doris-fe-0 … are followers, the rest observers
		fes       int
		self      int
		replicas  int
		want      string
		dropped   bool
	}{
		{"observer dropped", 3, 4, 3, 3, "FrontendDropped", true},
		{"follower refused: two would remain", 3, 3, 2, 2, "FollowerScaleInUnsafe", false},
		{"follower dropped: three remain", 4, 4, 3, 3, "FrontendDropped", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			for i := 0; i < tt.fes; i++ {
				role := "OBSERVER"
				if i < tt.followers {
					role = "FOLLOWER"
				}
				c.AddFrontend(fakedoris.Frontend{Host: feName(i), EditLogPort: 9010, QueryPort: 9030, Role: role, IsMaster: i == 0, Alive: i != tt.self, Join: true})
			}
			fe := fakedoris.ServeT(t, c, feName(0))
			ev := &events{}
			n := node(t, cluster.FE, feName(tt.self), fe, cluster.Placement{StatefulSet: "doris-fe", Ordinal: tt.self, Replicas: tt.replicas}, nil, ev)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n.AfterStop(ctx)
			gone := true
			for _, f := range c.Frontends() {
				gone = gone && f.Host != feName(tt.self)
			}
			if !ev.has(tt.want) || gone != tt.dropped {
				t.Fatalf("events %q, dropped %v; want %s, %v", ev.reasons, gone, tt.want, tt.dropped)
			}
		})
	}
}

// A decommission is done only from the master's answers over time, with
// the last row seen empty (drain.go): never from one answer.
func TestDecommissionDoneOnlyWhenConfirmed(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64 // replicas per second the FE moves
		fault func(t *testing.T, c *fakedoris.Cluster, host, master string)
		want  string // the event that ends it
		left  bool   // BeforeStop's answer
		gone  bool
	}{
		{name: "a partial answer while tablets are left", rate: 0, want: "DecommissionIncomplete",
			fault: func(t *testing.T, c *fakedoris.Cluster, host, _ string) { c.HideBackend(host, cluster.ConfirmReads-1) }},
		{name: "a follower's view without the row", rate: 0, want: "DecommissionIncomplete",
			fault: func(t *testing.T, c *fakedoris.Cluster, host, _ string) { c.HideBackendOnFollowers(host, true) }},
		{name: "a follower's view without the row, the master's drop", rate: 500, want: "DecommissionDone", left: true, gone: true,
			fault: func(t *testing.T, c *fakedoris.Cluster, host, _ string) { c.HideBackendOnFollowers(host, true) }},
		{name: "dropped by hand with tablets on it", rate: 0, want: "BackendVanished", gone: true,
			fault: func(t *testing.T, c *fakedoris.Cluster, host, master string) {
				if err := (&cluster.Client{}).DropComputeNode(context.Background(), master, host, 9050); err != nil {
					t.Error(err)
				}
			}},
		{name: "drop_backend_after_decommission false: empty and kept", rate: 500, want: "DecommissionDone", left: true,
			fault: func(t *testing.T, c *fakedoris.Cluster, _, _ string) {
				c.SetFrontendConfig("drop_backend_after_decommission", false)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			for i := 0; i < 3; i++ {
				c.AddBackend(fakedoris.Backend{Host: podBE(i), Alive: true})
			}
			if err := c.AddTable("sales", "orders", fakedoris.Partition{Name: "p2026", ReplicationNum: 1, Buckets: 30}); err != nil {
				t.Fatal(err)
			}
			c.SetAlterInterval(2 * time.Second)
			c.SetDecommissionRate(tt.rate)
			master := fakedoris.ServeFrontendT(t, c, "127.0.0.1", "FOLLOWER", true)
			follower := fakedoris.ServeFrontendT(t, c, "127.0.0.2", "FOLLOWER", false)
			host := podBE(2)
			ev := &events{}
			n := node(t, cluster.BE, host, follower, cluster.Placement{StatefulSet: "doris-be", Ordinal: 2, Replicas: 2}, nil, ev)
			// The fault comes once the decommission is under way.
			go func() {
				for len(statements(c, "DECOMMISSION")) == 0 {
					time.Sleep(time.Millisecond)
				}
				tt.fault(t, c, host, master)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			left := n.BeforeStop(ctx)
			if !ev.has(tt.want) || left != tt.left {
				t.Fatalf("events %q, left %v; want %s, %v; %q", ev.reasons, left, tt.want, tt.left, ev.msgs)
			}
			if tt.want != "DecommissionDone" && ev.has("DecommissionDone") {
				t.Fatalf("done with tablets on it: %q", ev.msgs)
			}
			if listedAfterRound(c, host, tt.gone) == tt.gone {
				t.Fatalf("listed %v, want gone %v", listed(c, host), tt.gone)
			}
			if tt.left && c.TabletsOn(host) != 0 {
				t.Fatalf("left with %d tablets on it", c.TabletsOn(host))
			}
		})
	}
}

// SHOW BACKENDS shows a dead backend's NodeRole as "" (apache/doris
// BackendsProcDir.java; the fake mirrors it): a CN that the FE marked dead
// once it stopped is still known as a CN, from its be.conf, and dropped; a
// mix backend is never dropped nor taken for a CN.
func TestComputeNodeDroppedAfterMarkedDead(t *testing.T) {
	tests := []struct {
		name        string
		conf        string // the pod's be.conf
		cn          bool   // listed as a CN (NodeRole computation while alive)
		deadBefore  bool   // the FE marked it dead before its stop came (it crashed)
		wantDropped bool
	}{
		{name: "a CN marked dead after it stopped", conf: "be_node_role = computation\n", cn: true, wantDropped: true},
		{name: "a CN already dead when the stop came", conf: "be_node_role=computation\n", cn: true, deadBefore: true, wantDropped: true},
		{name: "a CN without be_node_role in its conf, its row read alive", conf: "", cn: true, wantDropped: true},
		{name: "a mix backend marked dead", conf: "be_node_role = mix\n", wantDropped: false},
		{name: "a mix backend, be_node_role unset, marked dead", conf: "", wantDropped: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mix, cns := 3, []int(nil) // be-0..be-2 mix
			if tt.cn {
				mix, cns = 2, []int{2} // be-0, be-1 mix; be-2 a CN
			}
			c, fe := backendCluster(t, mix, 1, cns...)
			host := podBE(2)
			ev := &events{}
			n := node(t, cluster.BE, host, fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: 2, Replicas: 2}, nil, ev)
			if err := os.WriteFile(n.ConfPath(), []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			t.Cleanup(cancel)
			if tt.deadBefore {
				c.SetAlive(host, false)
			}
			if tt.cn || tt.deadBefore {
				n.BeforeStop(ctx)
				if d := statements(c, "DECOMMISSION"); len(d) != 0 {
					t.Fatalf("a compute node decommissioned: %q", d)
				}
			}
			// The process stopped: the master's heartbeats fail and it
			// marks the backend dead before AfterStop reads the row (the
			// CN case that always holds alive rows too: conf unset).
			if tt.conf != "" || !tt.cn {
				c.SetAlive(host, false)
			}
			n.AfterStop(ctx)
			if gone := !listed(c, host); gone != tt.wantDropped {
				t.Fatalf("dropped %v, want %v; events %q %q; statements %q", gone, tt.wantDropped, ev.reasons, ev.msgs, statements(c, "DROP"))
			}
			if tt.wantDropped != ev.has("ComputeNodeDropped") {
				t.Fatalf("events %q", ev.reasons)
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Fatalf("%d tablets lost", lost)
			}
		})
	}
}

func podCN(i int) string {
	return fmt.Sprintf("doris-cn-%d.doris-cn-internal.doris.svc.cluster.local", i)
}

// `scale-in be|cn --to N` plans by the role a row shows while alive and,
// for a dead row (NodeRole "": BackendsProcDir.java), by its StatefulSet:
// a dead CN is planned as a CN, a dead mix backend as a BE, and neither is
// taken for the other; a backend listed by its IP (HOST_TYPE=IP) is a
// refusal, never "nothing to do".
func TestPlanScaleInDeadRows(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		to      int
		dead    []string
		ip      bool // a backend registered by its IP
		want    []string
		wantErr error
	}{
		{name: "a dead CN is a CN", kind: "cn", to: 1, dead: []string{podCN(1)}, want: []string{podCN(1)}},
		{name: "alive CNs", kind: "cn", to: 1, want: []string{podCN(1)}},
		{name: "a dead CN is no BE", kind: "be", to: 2, dead: []string{podCN(1)}, want: []string{podBE(2)}},
		{name: "a dead BE is a BE", kind: "be", to: 2, dead: []string{podBE(2)}, want: []string{podBE(2)}},
		{name: "a dead BE is no CN", kind: "cn", to: 2, dead: []string{podBE(2)}, want: nil},
		{name: "HOST_TYPE=IP is refused", kind: "be", to: 2, ip: true, wantErr: cluster.ErrHostIsIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			c.AddFrontend(fakedoris.Frontend{Host: feMaster, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
			for i := 0; i < 3; i++ {
				c.AddBackend(fakedoris.Backend{Host: podBE(i), Alive: true})
			}
			for i := 0; i < 2; i++ {
				c.AddBackend(fakedoris.Backend{Host: podCN(i), Alive: true, NodeRole: "computation"})
			}
			if tt.ip {
				c.AddBackend(fakedoris.Backend{Host: "10.244.1.7", Alive: true})
			}
			fe := fakedoris.ServeT(t, c, feMaster)
			for _, h := range tt.dead {
				c.SetAlive(h, false)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t.Cleanup(cancel)
			p, err := cluster.PlanScaleIn(ctx, &cluster.Client{ConnectTimeout: time.Second, QueryTimeout: 2 * time.Second}, fe, tt.kind, tt.to)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range p.Going {
				got = append(got, n.Host)
				if want := map[string]string{"be": "mix", "cn": "computation"}[tt.kind]; n.Role != want {
					t.Errorf("%s planned with role %q, want %q", n.Host, n.Role, want)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("going %q, want %q", got, tt.want)
			}
		})
	}
}
