package fakedoris

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the scheduler's clock in these tests: time moves only when
// the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// tabletCluster is a master FE, the backends be-0 … be-(n-1) on port 9050,
// and a clock.
func tabletCluster(t *testing.T, layout Layout, n int) (*Cluster, int, *fakeClock) {
	t.Helper()
	c := NewCluster(layout)
	c.AddFrontend(Frontend{Host: master, EditLogPort: 9010, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	for i := 0; i < n; i++ {
		c.AddBackend(Backend{Host: beHost(i), Alive: true})
	}
	clk := &fakeClock{t: time.Date(2024, 8, 21, 10, 0, 0, 0, time.UTC)}
	c.SetClock(clk.now)
	return c, startFE(t, c, master), clk
}

func beHost(i int) string { return "be-" + string(rune('0'+i)) + ".internal" }

// batch parses mysql --batch output into the header and rows by column.
func batch(t *testing.T, out string) ([]string, []map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		cells := strings.Split(l, "\t")
		if len(cells) != len(head) {
			t.Fatalf("row with %d cells, header %d:\n%s", len(cells), len(head), out)
		}
		r := map[string]string{}
		for i, h := range head {
			r[h] = cells[i]
		}
		rows = append(rows, r)
	}
	return head, rows
}

func mustSQL(t *testing.T, port int, q string) string {
	t.Helper()
	out, err := mysqlBatch(t, port, "root", "", q)
	if err != nil {
		t.Fatalf("%s: %v\n%s", q, err, out)
	}
	return out
}

// backendRow is host's SHOW BACKENDS row through the mysql client, nil
// when it has none.
func backendRow(t *testing.T, port int, host string) map[string]string {
	t.Helper()
	_, rows := batch(t, mustSQL(t, port, "SHOW BACKENDS"))
	for _, r := range rows {
		if r["Host"] == host {
			return r
		}
	}
	return nil
}

// replicasOK checks every tablet has distinct backends and none lost.
func replicasOK(t *testing.T, c *Cluster) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tabletsLocked(func(tb *tablet) {
		seen := map[int]bool{}
		for _, id := range tb.replicas {
			if seen[id] {
				t.Errorf("tablet %d: two replicas on backend %d", tb.id, id)
			}
			seen[id] = true
		}
	})
}

func TestDecommission(t *testing.T) {
	const be3 = `"be-3.internal:9050"`
	for _, tt := range []struct {
		name     string
		backends int
		run      func(t *testing.T, c *Cluster, port int, clk *fakeClock)
	}{
		{"moves every replica, then the FE drops the backend", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			before := c.TabletsOn("be-3.internal")
			if before == 0 {
				t.Fatal("no replica on be-3")
			}
			mustSQL(t, port, "ALTER SYSTEM DECOMMISSION BACKEND "+be3)
			if r := backendRow(t, port, "be-3.internal"); r == nil || r["SystemDecommissioned"] != "true" {
				t.Fatalf("after DECOMMISSION: %v", r)
			}
			c.SetDecommissionRate(2)
			clk.advance(time.Second)
			if r := backendRow(t, port, "be-3.internal"); r == nil || r["TabletNum"] != itoa(before-2) {
				t.Fatalf("after 1 s at 2/s: %v, want TabletNum %d", r, before-2)
			}
			clk.advance(time.Hour)
			if r := backendRow(t, port, "be-3.internal"); r != nil {
				t.Fatalf("decommissioned backend still listed: %v", r)
			}
			if n := c.TabletsOn("be-3.internal"); n != 0 || c.LostTablets() != 0 || len(c.Backends()) != 3 {
				t.Fatalf("TabletsOn %d, lost %d, backends %d", n, c.LostTablets(), len(c.Backends()))
			}
			total := 0
			for _, be := range c.Backends() {
				total += be.TabletNum
			}
			if total != 8*3+6 {
				t.Fatalf("%d replicas left, want %d", total, 8*3+6)
			}
		}},
		{"3 backends, 3 replicas: accepted, never finishes", 3, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			be2 := `"be-2.internal:9050"`
			before := backendRow(t, port, "be-2.internal")["TabletNum"]
			mustSQL(t, port, "ALTER SYSTEM DECOMMISSION BACKEND "+be2)
			clk.advance(24 * time.Hour)
			r := backendRow(t, port, "be-2.internal")
			if r == nil || r["SystemDecommissioned"] != "true" || r["TabletNum"] == "0" {
				t.Fatalf("stuck decommission: %v", r)
			}
			// The single-replica tablets moved; the 3-replica ones cannot.
			if r["TabletNum"] != itoa(8) || before == r["TabletNum"] {
				t.Fatalf("TabletNum %s (before %s), want the 8 three-replica tablets", r["TabletNum"], before)
			}
			clk.advance(24 * time.Hour)
			if again := backendRow(t, port, "be-2.internal"); again["TabletNum"] != r["TabletNum"] {
				t.Fatalf("TabletNum changed: %s → %s", r["TabletNum"], again["TabletNum"])
			}
		}},
		{"no progress while the tablet scheduler is disabled", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("disable_tablet_scheduler" = "true")`)
			before := c.TabletsOn("be-3.internal")
			mustSQL(t, port, "ALTER SYSTEM DECOMMISSION BACKEND "+be3)
			clk.advance(time.Hour)
			if r := backendRow(t, port, "be-3.internal"); r == nil || r["TabletNum"] != itoa(before) {
				t.Fatalf("moved with the scheduler disabled: %v", r)
			}
			mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("disable_tablet_scheduler" = "false")`)
			if r := backendRow(t, port, "be-3.internal"); r == nil || r["TabletNum"] != itoa(before) {
				t.Fatalf("the disabled hour counted: %v", r)
			}
			clk.advance(time.Hour)
			if r := backendRow(t, port, "be-3.internal"); r != nil {
				t.Fatalf("re-enabled, still listed: %v", r)
			}
		}},
		// The balancer then brings replicas back (apache/doris-website
		// CANCEL-DECOMMISSION-BACKEND.md: "The cluster will slowly migrate
		// the tablets from other nodes back to the current BE").
		{"cancel stops the moves, the balance refills", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			c.SetDecommissionRate(5)
			before := c.TabletsOn("be-3.internal") // 7
			mustSQL(t, port, "ALTER SYSTEM DECOMMISSION BACKEND "+be3)
			clk.advance(time.Second)
			mustSQL(t, port, "CANCEL DECOMMISSION BACKEND "+be3)
			r := backendRow(t, port, "be-3.internal")
			if r == nil || r["SystemDecommissioned"] != "false" || r["TabletNum"] != itoa(before-5) {
				t.Fatalf("after CANCEL: %v, want TabletNum %d", r, before-5)
			}
			clk.advance(time.Hour)
			if n := c.TabletsOn("be-3.internal"); n < before-1 {
				t.Fatalf("an hour after CANCEL: %d tablets, want the balance to bring it near %d", n, before)
			}
		}},
		{"a decommissioned backend without replicas goes at the checker's next round", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			c.AddBackend(Backend{Host: "cn-0.internal", Alive: true, NodeRole: "computation"})
			mustSQL(t, port, `ALTER SYSTEM DECOMMISSION BACKEND "cn-0.internal:9050"`)
			if r := backendRow(t, port, "cn-0.internal"); r == nil || r["TabletNum"] != "0" || r["SystemDecommissioned"] != "true" {
				t.Fatalf("before the checker's round: %v, want listed, decommissioned, TabletNum 0", r)
			}
			clk.advance(DefaultAlterInterval)
			if r := backendRow(t, port, "cn-0.internal"); r != nil {
				t.Fatalf("empty decommissioned backend listed after a round: %v", r)
			}
		}},
		{"drop_backend_after_decommission false: the empty row stays", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("drop_backend_after_decommission" = "false")`)
			mustSQL(t, port, "ALTER SYSTEM DECOMMISSION BACKEND "+be3)
			clk.advance(24 * time.Hour)
			clk.advance(24 * time.Hour)
			if r := backendRow(t, port, "be-3.internal"); r == nil || r["TabletNum"] != "0" || r["SystemDecommissioned"] != "true" {
				t.Fatalf("with drop_backend_after_decommission false: %v, want the row, decommissioned, TabletNum 0", r)
			}
		}},
		{"unknown backend", 4, func(t *testing.T, c *Cluster, port int, clk *fakeClock) {
			for _, q := range []string{`ALTER SYSTEM DECOMMISSION BACKEND "nope:9050"`, `CANCEL DECOMMISSION BACKEND "nope:9050"`} {
				out, err := mysqlBatch(t, port, "root", "", q)
				if err == nil || !strings.Contains(out, "ERROR 1105") || !strings.Contains(out, "errCode = 2, detailMessage = Backend does not exist[nope:9050]") {
					t.Fatalf("%s: %v\n%s", q, err, out)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, port, clk := tabletCluster(t, Layout21, tt.backends)
			if err := c.AddTable("sales", "orders", Partition{Name: "p2024", ReplicationNum: 3, Buckets: 8}); err != nil {
				t.Fatal(err)
			}
			if err := c.AddTable("sales", "events", Partition{ReplicationNum: 1, Buckets: 6}); err != nil {
				t.Fatal(err)
			}
			tt.run(t, c, port, clk)
			replicasOK(t, c)
		})
	}
}

func TestDropBackend(t *testing.T) {
	c, port, clk := tabletCluster(t, Layout3, 3)
	if err := c.AddTable("d", "single", Partition{ReplicationNum: 1, Buckets: 9}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTable("d", "double", Partition{ReplicationNum: 2, Buckets: 3}); err != nil {
		t.Fatal(err)
	}
	on1 := c.TabletsOn("be-1.internal")
	out, err := mysqlBatch(t, port, "root", "", `ALTER SYSTEM DROP BACKEND "be-1.internal:9050"`)
	if err == nil || !strings.Contains(out, "ERROR 1105") ||
		!strings.Contains(out, "errCode = 2, detailMessage = It is highly NOT RECOMMENDED to use DROP BACKEND stmt.") ||
		!strings.Contains(out, "use DROPP instead of DROP") {
		t.Fatalf("DROP BACKEND: %v\n%s", err, out)
	}
	if c.TabletsOn("be-1.internal") != on1 || len(c.Backends()) != 3 {
		t.Fatal("a refused DROP changed something")
	}
	mustSQL(t, port, `ALTER SYSTEM DROPP BACKEND "be-1.internal:9050"`)
	if r := backendRow(t, port, "be-1.internal"); r != nil {
		t.Fatalf("dropped backend listed: %v", r)
	}
	if lost := c.LostTablets(); lost != 3 {
		t.Fatalf("LostTablets %d, want the 3 single-replica tablets of be-1", lost)
	}
	// The 2-replica tablets that had one on be-1 are repaired onto be-0/be-2.
	clk.advance(time.Minute)
	total := 0
	for _, be := range c.Backends() {
		total += be.TabletNum
	}
	if total != 6+3*2 {
		t.Fatalf("%d replicas after repair, want 6 single + 6 double", total)
	}
	replicasOK(t, c)
	out, err = mysqlBatch(t, port, "root", "", `ALTER SYSTEM DROPP BACKEND "be-1.internal:9050"`)
	if err == nil || !strings.Contains(out, "backend does not exists[be-1.internal:9050]") {
		t.Fatalf("DROPP of a dropped backend: %v\n%s", err, out)
	}
}

func TestDropFrontend(t *testing.T) {
	for _, tt := range []struct {
		name, q, want string // want: the error, "" for success
	}{
		{"the master", `ALTER SYSTEM DROP FOLLOWER "` + master + `:9010"`, "can not drop current master node."},
		{"the master as an observer", `ALTER SYSTEM DROP OBSERVER "` + master + `:9010"`, "can not drop current master node."},
		{"a follower as an observer", `ALTER SYSTEM DROP OBSERVER "fe-1.internal:9010"`, "OBSERVER does not exist[fe-1.internal:9010]"},
		{"an observer as a follower", `ALTER SYSTEM DROP FOLLOWER "fe-3.internal:9010"`, "FOLLOWER does not exist[fe-3.internal:9010]"},
		{"unknown", `ALTER SYSTEM DROP OBSERVER "fe-9.internal:9010"`, "frontend does not exist[fe-9.internal:9010]"},
		{"an alive follower, quorum kept", `ALTER SYSTEM DROP FOLLOWER "fe-1.internal:9010"`, ""},
		{"a dead follower", `ALTER SYSTEM DROP FOLLOWER "fe-2.internal:9010"`, ""},
		{"an observer", `ALTER SYSTEM DROP OBSERVER "fe-3.internal:9010"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCluster(Layout21)
			for _, fe := range []Frontend{
				{Host: master, Role: "FOLLOWER", IsMaster: true, Alive: true},
				{Host: "fe-1.internal", Role: "FOLLOWER", Alive: true},
				{Host: "fe-2.internal", Role: "FOLLOWER"},
				{Host: "fe-4.internal", Role: "FOLLOWER", Alive: true},
				{Host: "fe-3.internal", Role: "OBSERVER", Alive: true},
			} {
				fe.EditLogPort, fe.Join = 9010, true
				c.AddFrontend(fe)
			}
			port := startFE(t, c, master)
			out, err := mysqlBatch(t, port, "root", "", tt.q)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if len(c.Frontends()) != 4 {
					t.Fatalf("%d frontends left, want 4", len(c.Frontends()))
				}
				return
			}
			if err == nil || !strings.Contains(out, "ERROR 1105") || !strings.Contains(out, "errCode = 2, detailMessage = "+tt.want) {
				t.Fatalf("want %q, got %v:\n%s", tt.want, err, out)
			}
			if len(c.Frontends()) != 5 {
				t.Fatal("a refused DROP removed a frontend")
			}
		})
	}
	// 3 followers, 2 alive: dropping an alive one leaves no majority.
	c := NewCluster(Layout21)
	c.AddFrontend(Frontend{Host: master, EditLogPort: 9010, Role: "FOLLOWER", IsMaster: true, Alive: true})
	c.AddFrontend(Frontend{Host: "fe-1.internal", EditLogPort: 9010, Role: "FOLLOWER", Alive: true})
	c.AddFrontend(Frontend{Host: "fe-2.internal", EditLogPort: 9010, Role: "FOLLOWER"})
	out, err := mysqlBatch(t, startFE(t, c, master), "root", "", `ALTER SYSTEM DROP FOLLOWER "fe-1.internal:9010"`)
	if err == nil || !strings.Contains(out, "Unable to drop this alive follower, because the quorum requirements are not met") {
		t.Fatalf("quorum: %v\n%s", err, out)
	}
}

// SHOW PROC '/dbs' and below: the 2.1 titles, numeric ids from 10000, the
// replication numbers, and Doris' errors for unknown ids.
func TestShowProcLayouts(t *testing.T) {
	c, port, _ := tabletCluster(t, Layout21, 3)
	if err := c.AddTable("sales", "orders", Partition{Name: "p1", ReplicationNum: 3, Buckets: 4},
		Partition{Name: "p2", ReplicationNum: 1, Buckets: 2}); err != nil {
		t.Fatal(err)
	}
	head, dbs := batch(t, mustSQL(t, port, "SHOW PROC '/dbs'"))
	if strings.Join(head, ",") != strings.Join(dbsTitles, ",") || len(dbs) != 3 {
		t.Fatalf("/dbs: %v %v", head, dbs)
	}
	if dbs[0]["DbName"] != "information_schema" || dbs[1]["DbName"] != "mysql" || dbs[2]["DbName"] != "sales" ||
		dbs[2]["DbId"] != "10000" || dbs[2]["TableNum"] != "1" || dbs[2]["ReplicaCount"] != "14" {
		t.Fatalf("/dbs rows: %v", dbs)
	}
	head, tables := batch(t, mustSQL(t, port, "SHOW PROC '/dbs/10000'"))
	if strings.Join(head, ",") != strings.Join(tablesTitles, ",") || len(tables) != 1 ||
		tables[0]["TableName"] != "orders" || tables[0]["Type"] != "OLAP" || tables[0]["PartitionNum"] != "2" {
		t.Fatalf("/dbs/10000: %v %v", head, tables)
	}
	head, parts := batch(t, mustSQL(t, port, "SHOW PROC '/dbs/10000/"+tables[0]["TableId"]+"/partitions'"))
	if strings.Join(head, ",") != strings.Join(partitionsTitles, ",") || len(parts) != 2 ||
		parts[0]["PartitionName"] != "p1" || parts[0]["ReplicationNum"] != "3" || parts[0]["Buckets"] != "4" ||
		parts[1]["ReplicationNum"] != "1" || parts[1]["ReplicaAllocation"] != "tag.location.default: 1" {
		t.Fatalf("partitions: %v %v", head, parts)
	}
	if _, rows := batch(t, mustSQL(t, port, "SHOW PROC '/dbs/0'")); len(rows) != 0 {
		t.Fatalf("information_schema tables: %v", rows)
	}
	for q, want := range map[string]string{
		"SHOW PROC '/dbs/99'":                  "Database 99 does not exist",
		"SHOW PROC '/dbs/x'":                   "Invalid db id format: x",
		"SHOW PROC '/dbs/10000/77/partitions'": "Unknown table '77'",
		"SHOW PROC '/nothing'":                 "Proc path '/nothing' doesn't exist",
	} {
		out, err := mysqlBatch(t, port, "root", "", q)
		if err == nil || !strings.Contains(out, "ERROR 1105") || !strings.Contains(out, "errCode = 2, detailMessage = "+want) {
			t.Errorf("%s: want %q, got %v:\n%s", q, want, err, out)
		}
	}
	// SHOW BACKENDS TabletNum from the model: 4×3 + 2×1 replicas on 3 backends.
	_, bes := batch(t, mustSQL(t, port, "SHOW BACKENDS"))
	sum := 0
	for _, r := range bes {
		sum += atoi(r["TabletNum"])
	}
	if sum != 14 {
		t.Fatalf("TabletNum total %d, want 14:\n%v", sum, bes)
	}
}

// The upgrade flags: SHOW FRONTEND CONFIG's layout, ADMIN SET, and lost on
// a master change or restart.
func TestFrontendConfig(t *testing.T) {
	c, port, _ := tabletCluster(t, Layout21, 1)
	c.AddFrontend(Frontend{Host: "fe-1.internal", EditLogPort: 9010, Role: "FOLLOWER", Alive: true, Join: true})
	show := func(key string) map[string]string {
		t.Helper()
		head, rows := batch(t, mustSQL(t, port, "SHOW FRONTEND CONFIG LIKE '"+key+"'"))
		if strings.Join(head, ",") != "Key,Value,Type,IsMutable,MasterOnly,Comment" || len(rows) != 1 || rows[0]["Key"] != key {
			t.Fatalf("SHOW FRONTEND CONFIG LIKE '%s': %v %v", key, head, rows)
		}
		return rows[0]
	}
	flags := []string{"disable_balance", "disable_colocate_balance", "disable_tablet_scheduler"}
	for _, k := range flags {
		if r := show(k); r["Value"] != "false" || r["MasterOnly"] != "true" {
			t.Fatalf("default %v", r)
		}
		mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("`+k+`" = "true")`)
		if v, _ := c.FrontendConfig(k); v != "true" || show(k)["Value"] != "true" {
			t.Fatalf("%s not set", k)
		}
	}
	mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("max_bytes_per_broker_scanner" = "1024")`) // other keys: accepted
	out, err := mysqlBatch(t, port, "root", "", `ADMIN SET FRONTEND CONFIG ("disable_balance" = "yes")`)
	if err == nil || !strings.Contains(out, "Failed to set config 'disable_balance'") {
		t.Fatalf("non-boolean accepted: %v\n%s", err, out)
	}
	_, rows := batch(t, mustSQL(t, port, "SHOW FRONTEND CONFIG LIKE 'disable_%'"))
	if len(rows) != 3 {
		t.Fatalf("LIKE 'disable_%%': %v", rows)
	}
	c.SetMaster("fe-1.internal")
	for _, k := range flags {
		if v, _ := c.FrontendConfig(k); v != "false" {
			t.Fatalf("%s survived a master change", k)
		}
	}
	c.SetFrontendConfig("disable_tablet_scheduler", true)
	c.RestartMaster()
	if v, _ := c.FrontendConfig("disable_tablet_scheduler"); v != "false" {
		t.Fatal("survived a master restart")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
