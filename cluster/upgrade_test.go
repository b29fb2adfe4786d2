package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// memRecords keeps upgrade records in memory; failPut/failGet/failDelete
// make those calls fail (an API without the Role).
type memRecords struct {
	mu                           sync.Mutex
	data                         map[string]string
	failPut, failGet, failDelete bool
}

func (m *memRecords) GetUpgrade(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet {
		return "", false, errors.New("configmaps is forbidden")
	}
	v, ok := m.data[key]
	return v, ok, nil
}

func (m *memRecords) PutUpgrade(_ context.Context, key, data string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut {
		return errors.New("configmaps is forbidden")
	}
	if m.data == nil {
		m.data = map[string]string{}
	}
	m.data[key] = data
	return nil
}

func (m *memRecords) DeleteUpgrade(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failDelete {
		return errors.New("configmaps is forbidden")
	}
	delete(m.data, key)
	return nil
}

func (m *memRecords) has() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.data["cluster-"+fakedoris.ClusterID]
	return ok
}

// feIP is the loopback address FE i listens on and is known by: the
// master's flags are read on the master's own Host:QueryPort.
func feIP(i int) string { return fmt.Sprintf("127.0.0.%d", i+1) }

// upCluster is fes FEs (the first followers of them followers, FE 0
// master), each served on its own loopback address, bes BEs and one table
// of the given replication; it returns the FEs' addresses.
func upCluster(t *testing.T, fes, followers, bes, replication int) (*fakedoris.Cluster, []string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	var addrs []string
	for i := 0; i < fes; i++ {
		role := "OBSERVER"
		if i < followers {
			role = "FOLLOWER"
		}
		addrs = append(addrs, fakedoris.ServeFrontendT(t, c, feIP(i), role, i == 0))
	}
	for i := 0; i < bes; i++ {
		c.AddBackend(fakedoris.Backend{Host: podBE(i), HeartbeatPort: 9050, Alive: true, NodeRole: "mix"})
	}
	if replication > 0 {
		if err := c.AddTable("sales", "orders", fakedoris.Partition{Name: "p1", ReplicationNum: replication, Buckets: 3},
			fakedoris.Partition{Name: "p2", ReplicationNum: replication, Buckets: 3}); err != nil {
			t.Fatal(err)
		}
	}
	return c, addrs
}

func upgrade(addrs []string, recs cluster.UpgradeRecords, ev *events) *cluster.Upgrade {
	u := &cluster.Upgrade{Client: &cluster.Client{ConnectTimeout: time.Second, QueryTimeout: 2 * time.Second}, FEAddrs: addrs, Records: recs, Pod: "doris-be-0"}
	if ev != nil {
		u.Event = ev.add
	}
	return u
}

func flags(c *fakedoris.Cluster) string {
	var out []string
	for _, k := range cluster.UpgradeFlags {
		v, _ := c.FrontendConfig(k)
		out = append(out, v)
	}
	return strings.Join(out, ",")
}

const allOn, allOff = "true,true,true", "false,false,false"

func findings(r *cluster.UpgradeReport, level string) string {
	var out []string
	for _, f := range r.Findings {
		if f.Level == level {
			out = append(out, f.Text)
		}
	}
	return strings.Join(out, "\n")
}

func mustVersion(t *testing.T, s string) *cluster.Version {
	t.Helper()
	v, err := cluster.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

// The check: single-replica partitions counted and named, fewer than 3
// followers warned, a skipped line refused with --to, a dead or
// decommissioned node and an unparsable version unsafe (never a crash).
func TestUpgradeCheck(t *testing.T) {
	tests := []struct {
		name        string
		followers   int
		replication int
		to          string
		setup       func(c *fakedoris.Cluster)
		safe        bool
		unsafe      string
		warning     string
	}{
		{name: "healthy", followers: 3, replication: 3, to: "doris-2.1.7", safe: true},
		{name: "single replica", followers: 3, replication: 1, unsafe: "2 single-replica partition(s) (sales.orders.p1, sales.orders.p2)"},
		{name: "single follower", followers: 1, replication: 3, safe: true, warning: "a single FE follower"},
		{name: "two followers", followers: 2, replication: 3, safe: true, warning: "2 FE followers"},
		{name: "minor skip", followers: 3, replication: 3, to: "doris-2.3.0", unsafe: "2.1 → 2.3 skips 2.2"},
		{name: "downgrade", followers: 3, replication: 3, to: "doris-2.1.2", unsafe: "downgrade"},
		{name: "dead be", followers: 3, replication: 3, setup: func(c *fakedoris.Cluster) { c.SetAlive(podBE(1), false) },
			unsafe: "1 node(s) not alive: be " + podBE(1)},
		{name: "unparsable version", followers: 3, replication: 3, setup: func(c *fakedoris.Cluster) { c.SetVersion(podBE(2), "nightly build") },
			unsafe: `unparsable Doris version "nightly build"`},
		{name: "fe ahead of be", followers: 3, replication: 3, setup: func(c *fakedoris.Cluster) { c.SetVersion(feIP(1), "doris-3.0.3") },
			safe: true, warning: "an FE runs doris-3.0.3 while a BE/CN still runs doris-2.1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, addrs := upCluster(t, 3, tt.followers, 3, tt.replication)
			if tt.setup != nil {
				tt.setup(c)
			}
			var to *cluster.Version
			if tt.to != "" {
				to = mustVersion(t, tt.to)
			}
			r := upgrade(addrs, &memRecords{}, nil).Check(context.Background(), to)
			if r.Safe != tt.safe || r.OK != tt.safe {
				t.Errorf("safe %v ok %v, want %v: %s\n%s", r.Safe, r.OK, tt.safe, r.Result, findings(r, cluster.Unsafe))
			}
			if tt.unsafe != "" && !strings.Contains(findings(r, cluster.Unsafe), tt.unsafe) {
				t.Errorf("unsafe findings lack %q:\n%s", tt.unsafe, findings(r, cluster.Unsafe))
			}
			if tt.warning != "" && !strings.Contains(findings(r, cluster.Warning), tt.warning) {
				t.Errorf("warnings lack %q:\n%s", tt.warning, findings(r, cluster.Warning))
			}
			if len(r.Nodes) != 6 {
				t.Errorf("%d nodes, want 6", len(r.Nodes))
			}
			var out bytes.Buffer
			cluster.PrintUpgradeReport(&out, r, false)
			for _, want := range []string{"KIND", podBE(2) + ":9050", "master", "verdict: "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, out.String())
				}
			}
			out.Reset()
			cluster.PrintUpgradeReport(&out, r, true)
			var doc map[string]any
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc["safe"] != tt.safe {
				t.Errorf("JSON %v: %s", err, out.String())
			}
		})
	}
}

// guardNode is an FE supervisor's node: its own FE is not running (the
// query port in its conf is closed), so the guard asks FE_ADDRS.
func guardNode(t *testing.T, host string, addrs []string) *cluster.Node {
	t.Helper()
	root := t.TempDir()
	conf := filepath.Join(root, cluster.FE.Conf)
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("query_port = %d\nedit_log_port = 9010\n", closed)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &cluster.Node{Component: cluster.FE, Root: root, FEAddrs: addrs, PodFQDN: host,
		Client: &cluster.Client{ConnectTimeout: time.Second, QueryTimeout: 2 * time.Second}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *events) count(reason string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.reasons {
		if r == reason {
			n++
		}
	}
	return n
}

// begin → the flags on and recorded; a master restart and a failover turn
// them off, the guard of an FE that is not the master sets them again on the
// new master; status follows the versions; end refuses until every node
// runs one version, then turns them off and removes the record, and the
// guard stops.
func TestUpgradeBeginGuardStatusEnd(t *testing.T) {
	c, addrs := upCluster(t, 3, 3, 3, 3)
	recs := &memRecords{}
	ev := &events{}
	u := upgrade(addrs, recs, ev)
	ctx := context.Background()

	r := u.Begin(ctx, mustVersion(t, "doris-2.1.7"), false)
	if !r.OK || flags(c) != allOn || !recs.has() || !ev.has("UpgradeBegun") {
		t.Fatalf("begin: ok %v flags %s recorded %v events %v: %s", r.OK, flags(c), recs.has(), ev.reasons, r.Result)
	}
	if again := u.Begin(ctx, nil, false); !again.OK || !strings.Contains(again.Result, "already recorded") {
		t.Errorf("begin again: %s", again.Result)
	}

	gctx, cancel := context.WithCancel(ctx)
	guardDone := make(chan struct{})
	gev := &events{}
	g := &cluster.UpgradeGuard{Node: guardNode(t, feIP(2), addrs), Records: recs, Event: gev.add, Interval: 20 * time.Millisecond}
	go func() { defer close(guardDone); g.Run(gctx) }()
	t.Cleanup(func() { cancel(); <-guardDone })

	c.RestartMaster()
	waitFor(t, "the flags on again after the master restarted", func() bool { return flags(c) == allOn && gev.count("UpgradeFlagsReapplied") == 1 })
	c.SetMaster(feIP(1))
	waitFor(t, "the flags on again on the new master", func() bool { return flags(c) == allOn && gev.count("UpgradeFlagsReapplied") == 2 })
	if msg := gev.msgs[len(gev.msgs)-1]; !strings.Contains(msg, "the master changed from "+feIP(0)+":9010") {
		t.Errorf("event: %s", msg)
	}

	for i := 0; i < 3; i++ {
		c.SetVersion(podBE(i), "doris-2.1.7")
	}
	st := u.Status(ctx)
	if !st.OK || !strings.HasPrefix(st.Next, "FE: 3 of 3 not on 2.1.7") || !strings.Contains(st.Next, "the master ("+feIP(1)+") last") {
		t.Errorf("status next: %q", st.Next)
	}
	if st.Versions["be"]["doris-2.1.7"] != 3 || !st.Flags.All(true) {
		t.Errorf("status: versions %v flags %s", st.Versions, st.Flags)
	}

	if r := u.End(ctx, false); r.OK || !recs.has() || flags(c) != allOn || !strings.Contains(findings(r, cluster.Unsafe), "the nodes run 2 versions") {
		t.Fatalf("end before the FEs: ok %v recorded %v flags %s: %s", r.OK, recs.has(), flags(c), r.Result)
	}
	for i := 0; i < 3; i++ {
		c.SetVersion(feIP(i), "doris-2.1.7")
	}
	if st := u.Status(ctx); !strings.Contains(st.Next, "brokers next") {
		t.Errorf("status next: %q", st.Next)
	}
	if r := u.End(ctx, false); !r.OK || recs.has() || flags(c) != allOff || !ev.has("UpgradeEnded") {
		t.Fatalf("end: ok %v recorded %v flags %s: %s", r.OK, recs.has(), flags(c), r.Result)
	}
	// The guard has nothing to keep on any more: over three of its rounds
	// it sets nothing.
	c.SetMaster(feIP(0))
	n := countStatements(c, "SHOW FRONTENDS")
	waitFor(t, "three more guard rounds", func() bool { return countStatements(c, "SHOW FRONTENDS") > n+3 })
	if gev.count("UpgradeFlagsReapplied") != 2 || flags(c) != allOff {
		t.Errorf("after end: %d re-applies, flags %s", gev.count("UpgradeFlagsReapplied"), flags(c))
	}
}

func countStatements(c *fakedoris.Cluster, s string) int {
	n := 0
	for _, q := range c.Statements() {
		if q == s {
			n++
		}
	}
	return n
}

// Bad input: every failure is one clear result and the flags are where
// they were (and said to be).
func TestUpgradeBadInput(t *testing.T) {
	ctx := context.Background()
	t.Run("fe unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		r := upgrade([]string{addr}, &memRecords{}, nil).Status(ctx)
		if r.OK || !strings.Contains(r.Result, "cannot read the cluster: no FE answered") || !strings.Contains(r.Flags.String(), "unknown") {
			t.Errorf("%s / flags %s", r.Result, r.Flags)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 3)
		c.SetPassword("root", "secret-root")
		c.SetPassword("ops", "right-one")
		u := upgrade(addrs, &memRecords{}, nil)
		u.Client.Admin = cluster.Credentials{User: "ops", Password: "not-it"}
		r := u.Begin(ctx, nil, false)
		if r.OK || !strings.Contains(r.Result, "access denied for root, then ops") || strings.Contains(r.Result, "not-it") {
			t.Errorf("%s", r.Result)
		}
		if flags(c) != allOff {
			t.Errorf("flags %s", flags(c))
		}
	})
	t.Run("record cannot be written", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 3)
		r := upgrade(addrs, &memRecords{failPut: true}, nil).Begin(ctx, nil, true)
		if r.OK || !strings.Contains(r.Result, "could not be recorded") || flags(c) != allOff {
			t.Errorf("%s / flags %s", r.Result, flags(c))
		}
	})
	t.Run("no api access", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 3)
		r := upgrade(addrs, nil, nil).Begin(ctx, nil, true)
		if r.OK || !strings.Contains(r.Result, "no API access") || flags(c) != allOff {
			t.Errorf("%s / flags %s", r.Result, flags(c))
		}
		if st := upgrade(addrs, nil, nil).Status(ctx); !strings.Contains(st.Record.String(), "unknown") || !st.Flags.All(false) {
			t.Errorf("status: record %s flags %s", st.Record, st.Flags)
		}
	})
	t.Run("decommission running", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 1)
		if err := (&cluster.Client{}).Decommission(ctx, addrs[0], podBE(2), 9050); err != nil {
			t.Fatal(err)
		}
		r := upgrade(addrs, &memRecords{}, nil).Begin(ctx, nil, true)
		if r.OK || !strings.Contains(r.Result, "a decommission runs") || flags(c) != allOff {
			t.Errorf("%s / flags %s", r.Result, flags(c))
		}
	})
	t.Run("unsafe without force", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 1, 1)
		recs := &memRecords{}
		if r := upgrade(addrs, recs, nil).Begin(ctx, nil, false); r.OK || flags(c) != allOff || recs.has() {
			t.Errorf("%s / flags %s", r.Result, flags(c))
		}
		if r := upgrade(addrs, recs, nil).Begin(ctx, nil, true); !r.OK || flags(c) != allOn || !recs.has() {
			t.Errorf("--force: %s / flags %s", r.Result, flags(c))
		}
	})
	t.Run("corrupt record", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 3)
		recs := &memRecords{data: map[string]string{"cluster-" + fakedoris.ClusterID: "{not json"}}
		st := upgrade(addrs, recs, nil).Status(ctx)
		if !strings.Contains(st.Record.String(), "unreadable") || !strings.Contains(findings(st, cluster.Warning), "cannot be read") {
			t.Errorf("status: %s\n%s", st.Record, findings(st, cluster.Warning))
		}
		// The guard keeps the flags on for it.
		gctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		g := &cluster.UpgradeGuard{Node: guardNode(t, feIP(0), addrs), Records: recs, Interval: 20 * time.Millisecond}
		go func() { defer close(done); g.Run(gctx) }()
		waitFor(t, "the flags on", func() bool { return flags(c) == allOn })
		cancel()
		<-done
		if r := upgrade(addrs, recs, nil).End(ctx, false); !r.OK || recs.has() || flags(c) != allOff {
			t.Errorf("end: %s / flags %s", r.Result, flags(c))
		}
	})
	t.Run("record cannot be removed", func(t *testing.T) {
		c, addrs := upCluster(t, 1, 1, 3, 3)
		recs := &memRecords{}
		if r := upgrade(addrs, recs, nil).Begin(ctx, nil, false); !r.OK {
			t.Fatal(r.Result)
		}
		recs.failDelete = true
		if r := upgrade(addrs, recs, nil).End(ctx, false); r.OK || !strings.Contains(r.Result, "could not be removed") || flags(c) != allOn {
			t.Errorf("%s / flags %s", r.Result, flags(c))
		}
	})
	t.Run("bad --to", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := upgrade([]string{"127.0.0.1:1"}, nil, nil).Run(ctx, cluster.UpgradeCommand{Sub: "check", To: "latest"}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), `unparsable Doris version "latest"`) {
			t.Errorf("code %d: %s", code, errOut.String())
		}
	})
}

// "Same version" is the numbers: end accepts nodes that differ only in
// their release candidate or commit, and refuses another patch release.
func TestUpgradeEndSameVersion(t *testing.T) {
	tests := []struct {
		name     string
		fe, be   string
		ok       bool
		findings string
	}{
		{name: "rc and hash", fe: "doris-2.1.7-rc01-0123456789", be: "doris-2.1.7-rc02-d5a02e095d", ok: true},
		{name: "no build details", fe: "doris-2.1.7-rc01-0123456789", be: "doris-2.1.7", ok: true},
		{name: "vendor prefix", fe: "selectdb-doris-2.1.7-b3", be: "doris-2.1.7-rc01-0123456789", ok: true},
		{name: "patch differs", fe: "doris-2.1.7-rc01-0123456789", be: "doris-2.1.6-rc01-0123456789", findings: "the nodes run 2 versions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, addrs := upCluster(t, 3, 3, 3, 3)
			recs := &memRecords{}
			u := upgrade(addrs, recs, nil)
			if r := u.Begin(context.Background(), nil, false); !r.OK {
				t.Fatal(r.Result)
			}
			for i := 0; i < 3; i++ {
				c.SetVersion(feIP(i), tt.fe)
				c.SetVersion(podBE(i), tt.be)
			}
			r := u.End(context.Background(), false)
			if r.OK != tt.ok || (tt.findings != "" && !strings.Contains(findings(r, cluster.Unsafe), tt.findings)) {
				t.Errorf("end: ok %v, want %v: %s\n%s", r.OK, tt.ok, r.Result, findings(r, cluster.Unsafe))
			}
			if want := map[bool]string{true: allOff, false: allOn}[tt.ok]; flags(c) != want {
				t.Errorf("flags %s, want %s", flags(c), want)
			}
		})
	}
}

// hookRecords is memRecords with a hook run once, at the first GetUpgrade
// after arm: the caller gets the record as it was before the hook.
type hookRecords struct {
	*memRecords
	mu   sync.Mutex
	hook func()
}

func (h *hookRecords) arm(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = f
}

func (h *hookRecords) GetUpgrade(ctx context.Context, key string) (string, bool, error) {
	data, found, err := h.memRecords.GetUpgrade(ctx, key)
	h.mu.Lock()
	f := h.hook
	h.hook = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return data, found, err
}

// upgrade end, then FE master changes: the balance is never turned off
// again, even when end runs in the middle of a guard's round (the guard
// read the record before end removed it, and the flags after end set them
// false).
func TestUpgradeEndThenMasterChange(t *testing.T) {
	c, addrs := upCluster(t, 3, 3, 3, 3)
	recs := &memRecords{}
	u := upgrade(addrs, recs, nil)
	ctx := context.Background()
	if r := u.Begin(ctx, nil, false); !r.OK {
		t.Fatal(r.Result)
	}
	hooked := &hookRecords{memRecords: recs}
	gev := &events{}
	// The master's own supervisor: it acts at once on flags seen off.
	g := &cluster.UpgradeGuard{Node: guardNode(t, feIP(0), addrs), Records: hooked, Event: gev.add, Interval: 20 * time.Millisecond}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); g.Run(gctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rounds := func(n int) {
		t.Helper()
		k := countStatements(c, "SHOW FRONTENDS")
		waitFor(t, fmt.Sprintf("%d guard rounds", n), func() bool { return countStatements(c, "SHOW FRONTENDS") >= k+n })
	}
	rounds(2)

	ended := make(chan *cluster.UpgradeReport, 1)
	hooked.arm(func() { ended <- u.End(ctx, false) })
	var r *cluster.UpgradeReport
	select {
	case r = <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("no guard round ran upgrade end")
	}
	if !r.OK || recs.has() {
		t.Fatalf("end: ok %v recorded %v: %s", r.OK, recs.has(), r.Result)
	}
	rounds(3)
	if flags(c) != allOff {
		t.Errorf("after end, the guard's round left the flags %s", flags(c))
	}
	for _, m := range []string{feIP(1), feIP(2), feIP(0)} {
		c.SetMaster(m)
		rounds(3)
		if flags(c) != allOff {
			t.Errorf("after the master moved to %s: flags %s", m, flags(c))
		}
	}
	if n := gev.count("UpgradeFlagsReapplied"); n != 0 {
		t.Errorf("%d UpgradeFlagsReapplied after end: %q", n, gev.msgs)
	}
}
