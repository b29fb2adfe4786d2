package cluster_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// versionClass is a class file with the String constants of Doris'
// generated Version.java (and an int, as the real one has).
func versionClass(consts map[string]string) []byte {
	var pool bytes.Buffer
	n := uint16(1)
	u2 := func(w *bytes.Buffer, v uint16) { binary.Write(w, binary.BigEndian, v) }
	utf8 := func(s string) uint16 {
		pool.WriteByte(1)
		u2(&pool, uint16(len(s)))
		pool.WriteString(s)
		n++
		return n - 1
	}
	str := func(s string) uint16 {
		u := utf8(s)
		pool.WriteByte(8)
		u2(&pool, u)
		n++
		return n - 1
	}
	cv, desc := utf8("ConstantValue"), utf8("Ljava/lang/String;")
	pool.WriteByte(5) // a long: two slots
	pool.Write(make([]byte, 8))
	n += 2
	type field struct{ name, value uint16 }
	var fields []field
	for k, v := range consts {
		fields = append(fields, field{utf8(k), str(v)})
	}
	this := utf8("org/apache/doris/common/Version")
	pool.WriteByte(7)
	u2(&pool, this)
	n++
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(0xCAFEBABE))
	u2(&b, 0)
	u2(&b, 52)
	u2(&b, n)
	b.Write(pool.Bytes())
	u2(&b, 0x21)
	u2(&b, n-1)
	u2(&b, 0)
	u2(&b, 0) // interfaces
	u2(&b, uint16(len(fields)))
	for _, f := range fields {
		u2(&b, 0x19)
		u2(&b, f.name)
		u2(&b, desc)
		u2(&b, 1)
		u2(&b, cv)
		binary.Write(&b, binary.BigEndian, uint32(2))
		u2(&b, f.value)
	}
	return b.Bytes()
}

func writeJar(t *testing.T, root string, class []byte) {
	t.Helper()
	p := filepath.Join(root, "fe", "lib", "doris-fe.jar")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("org/apache/doris/common/Version.class")
	w.Write(class)
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The own version: the override first, else the FE's Version.class; a jar
// that is not there or not readable is an error that names the override.
func TestOwnVersion(t *testing.T) {
	tests := []struct {
		name     string
		override string
		class    []byte
		want     string
		wantErr  string
	}{
		// A 2.1 build: DORIS_BUILD_VERSION carries the prefix (apache/doris
		// gensrc/script/gen_build_version.sh), never "doris-doris-…".
		{name: "jar 2.1", class: versionClass(map[string]string{"DORIS_BUILD_VERSION_PREFIX": "doris", "DORIS_BUILD_VERSION": "doris-2.1.5-rc02",
			"DORIS_BUILD_SHORT_HASH": "d5a02e095d"}), want: "doris-2.1.5-rc02-d5a02e095d"},
		{name: "jar without the prefix", class: versionClass(map[string]string{"DORIS_BUILD_VERSION_PREFIX": "doris", "DORIS_BUILD_VERSION": "2.1.5-rc02",
			"DORIS_BUILD_SHORT_HASH": "d5a02e095d"}), want: "doris-2.1.5-rc02-d5a02e095d"},
		{name: "jar of a vendor", class: versionClass(map[string]string{"DORIS_BUILD_VERSION_PREFIX": "selectdb", "DORIS_BUILD_VERSION": "doris-2.1.6-b3",
			"DORIS_BUILD_SHORT_HASH": "0123456789"}), want: "doris-2.1.6-b3-0123456789"},
		{name: "jar 4 numbers", class: versionClass(map[string]string{"DORIS_BUILD_VERSION_PREFIX": "doris", "DORIS_BUILD_VERSION": "doris-1.2.7.1"}),
			want: "doris-1.2.7.1"},
		{name: "override", override: "doris-3.0.3", want: "doris-3.0.3"},
		{name: "no jar", wantErr: "set DORIS_ENTRYPOINT_DORIS_VERSION"},
		{name: "not a class", class: []byte("PK garbage"), wantErr: "not a class file"},
		{name: "bad override", override: "tuesday", wantErr: `DORIS_ENTRYPOINT_DORIS_VERSION: unparsable Doris version "tuesday"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.class != nil {
				writeJar(t, root, tt.class)
			}
			o := &cluster.UpgradeOrder{Node: &cluster.Node{Component: cluster.FE, Root: root}, Version: tt.override}
			v, err := o.OwnVersion()
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || v.Raw != tt.want):
				t.Errorf("%q %v, want %q", v.Raw, err, tt.want)
			}
		})
	}
}

// The order guard of an FE: newer line than the BEs → Warning and a wait
// until they report it, or until the bound; a patch level ahead only logs;
// a stop ends the wait. A node on another version than the cluster lists,
// without a record: UpgradeWithoutBegin.
func TestUpgradeOrder(t *testing.T) {
	tests := []struct {
		name        string
		own         string
		wait        time.Duration
		upgradeBEs  bool // the BEs report the FE's version while it waits
		recorded    bool
		cancel      bool
		electing    bool // the FEs answer "Node catalog is not ready" at first
		setup       func(c *fakedoris.Cluster)
		dies        bool // the BE behind stops while the FE waits
		wantDead    int  // UpgradeOrderNotAlive Events naming podBE(1)
		wantErr     error
		wantOrder   int // UpgradeOrder Events
		wantWithout bool
	}{
		{name: "same version", own: fakedoris.DefaultVersion, wait: time.Minute},
		{name: "patch ahead", own: "doris-2.1.7", wait: time.Minute, recorded: true},
		{name: "waits for the bes", own: "doris-3.0.3", wait: time.Minute, upgradeBEs: true, recorded: true, wantOrder: 1},
		{name: "through an election", own: "doris-3.0.3", wait: time.Minute, upgradeBEs: true, recorded: true, electing: true, wantOrder: 1},
		{name: "bound", own: "doris-3.0.3", wait: 50 * time.Millisecond, recorded: true, wantOrder: 2},
		{name: "no wait", own: "doris-3.0.3", recorded: true, wantOrder: 1},
		{name: "stop", own: "doris-3.0.3", wait: time.Minute, recorded: true, cancel: true, wantErr: context.Canceled, wantOrder: 1},
		{name: "without begin", own: "doris-2.1.7", wait: time.Minute, wantWithout: true},
		// A dead BE still lists the version it last heartbeated with: it
		// is not waited for (it cannot upgrade while it is down), it is
		// named.
		{name: "dead be on the old line", own: "doris-3.0.3", wait: time.Minute, recorded: true, wantDead: 1,
			setup: func(c *fakedoris.Cluster) { oneBehind(c, "doris-3.0.3"); c.SetAlive(podBE(1), false) }},
		{name: "be dies while waited for", own: "doris-3.0.3", wait: time.Minute, recorded: true, dies: true, wantOrder: 1, wantDead: 1,
			setup: func(c *fakedoris.Cluster) { oneBehind(c, "doris-3.0.3") }},
		{name: "dead be on the same line", own: "doris-3.0.3", wait: time.Minute, recorded: true,
			setup: func(c *fakedoris.Cluster) { c.SetBackendsVersion("doris-3.0.3"); c.SetAlive(podBE(1), false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, addrs := upCluster(t, 3, 3, 3, 3)
			recs := &memRecords{}
			if tt.recorded {
				recs.data = map[string]string{"cluster-" + fakedoris.ClusterID: "{}"}
			}
			ev := &events{}
			node := guardNode(t, feIP(2), addrs)
			core, logs := observer.New(zap.InfoLevel)
			node.Logger = zap.New(core)
			if tt.electing {
				c.SetCatalogNotReady(true)
			}
			if tt.setup != nil {
				tt.setup(c)
			}
			o := &cluster.UpgradeOrder{Node: node, Records: recs, Event: ev.add, Version: tt.own, Wait: tt.wait, Poll: 10 * time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- o.BeforeStart(ctx) }()
			if tt.electing {
				waitFor(t, "asking again", func() bool { return logs.FilterMessageSnippet("asking again").Len() > 0 })
				c.SetCatalogNotReady(false)
			}
			if tt.upgradeBEs || tt.cancel || tt.dies {
				waitFor(t, "the wait", func() bool { return ev.count("UpgradeOrder") == 1 })
				switch {
				case tt.upgradeBEs:
					c.SetBackendsVersion(tt.own)
				case tt.dies:
					c.SetAlive(podBE(1), false)
				default:
					cancel()
				}
			}
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("BeforeStart: %v, want %v", err, tt.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("BeforeStart did not return")
			}
			if n := ev.count("UpgradeOrder"); n != tt.wantOrder {
				t.Errorf("%d UpgradeOrder Events, want %d: %q", n, tt.wantOrder, ev.msgs)
			}
			if n := ev.count("UpgradeOrderNotAlive"); n != tt.wantDead || (n > 0 && !strings.Contains(ev.last("UpgradeOrderNotAlive"), podBE(1))) {
				t.Errorf("%d UpgradeOrderNotAlive Events naming %s, want %d: %q", n, podBE(1), tt.wantDead, ev.msgs)
			}
			if got := ev.has("UpgradeWithoutBegin"); got != tt.wantWithout {
				t.Errorf("UpgradeWithoutBegin %v, want %v: %q", got, tt.wantWithout, ev.msgs)
			}
		})
	}
}

// oneBehind puts every BE on version but BE 1, which stays on the default.
func oneBehind(c *fakedoris.Cluster, version string) {
	c.SetBackendsVersion(version)
	c.SetVersion(podBE(1), fakedoris.DefaultVersion)
}

// last is the message of the last Event of reason.
func (e *events) last(reason string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.reasons) - 1; i >= 0; i-- {
		if e.reasons[i] == reason {
			return e.msgs[i]
		}
	}
	return ""
}

// A node on its first start has no earlier version: the row ALTER SYSTEM
// ADD just made lists none until its first heartbeat (a scale-out's
// observer, a BE at the first deploy, on whatever image the cluster runs
// now), so no UpgradeWithoutBegin; a node the cluster saw on another
// version (a real restart), alive or not since, posts it.
func TestUpgradeWithoutBeginFirstStart(t *testing.T) {
	tests := []struct {
		name    string
		be      bool
		added   bool   // the row comes from ALTER SYSTEM ADD, no heartbeat yet
		listed  string // else the version the cluster lists for it
		alive   bool
		without bool
	}{
		{name: "observer just added", added: true},
		{name: "be just added", be: true, added: true},
		{name: "fe restarts", listed: fakedoris.DefaultVersion, alive: true, without: true},
		{name: "be restarts, seen dead", be: true, listed: fakedoris.DefaultVersion, without: true},
		{name: "be restarts on its version", be: true, listed: "doris-3.1.0-rc01-0123456789", alive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, addrs := upCluster(t, 1, 1, 0, 0)
			host := "doris-new-0.doris-internal.doris.svc.cluster.local"
			node := guardNode(t, host, addrs)
			ctx := context.Background()
			switch {
			case tt.be && tt.added:
				if err := node.Client.AddBackend(ctx, addrs[0], host, 9050); err != nil {
					t.Fatal(err)
				}
			case tt.added:
				if err := node.Client.AddFrontend(ctx, addrs[0], false, host, 9010); err != nil {
					t.Fatal(err)
				}
			case tt.be:
				c.AddBackend(fakedoris.Backend{Host: host, HeartbeatPort: 9050, Alive: tt.alive, NodeRole: "mix", Version: tt.listed})
			default:
				c.AddFrontend(fakedoris.Frontend{Host: host, EditLogPort: 9010, QueryPort: 9030, Role: "OBSERVER", Alive: tt.alive, Join: true,
					Version: tt.listed})
			}
			if tt.be {
				node.Component = cluster.BE
				conf := filepath.Join(node.Root, cluster.BE.Conf)
				if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(conf, []byte("heartbeat_service_port = 9050\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ev := &events{}
			o := &cluster.UpgradeOrder{Node: node, Records: &memRecords{}, Event: ev.add, Version: "doris-3.1.0-rc01-0123456789"}
			if err := o.BeforeStart(ctx); err != nil {
				t.Fatal(err)
			}
			if got := ev.has("UpgradeWithoutBegin"); got != tt.without {
				t.Errorf("UpgradeWithoutBegin %v, want %v: %q", got, tt.without, ev.msgs)
			}
		})
	}
}
