package fakedoris

import (
	"strings"
	"testing"
	"time"
)

// tableRow is the SHOW PROC '/dbs/<db>' row of table in db, through SQL.
func tableRow(t *testing.T, port int, db, table string) (dbID string, row map[string]string) {
	t.Helper()
	_, dbs := batch(t, mustSQL(t, port, "SHOW PROC '/dbs'"))
	for _, d := range dbs {
		if d["DbName"] != db {
			continue
		}
		_, tables := batch(t, mustSQL(t, port, "SHOW PROC '/dbs/"+d["DbId"]+"'"))
		for _, r := range tables {
			if r["TableName"] == table {
				return d["DbId"], r
			}
		}
	}
	t.Fatalf("no table %s.%s", db, table)
	return "", nil
}

// partitionRows is SHOW PROC '/dbs/<db>/<table>/partitions'.
func partitionRows(t *testing.T, port int, db, table string) []map[string]string {
	t.Helper()
	dbID, row := tableRow(t, port, db, table)
	_, parts := batch(t, mustSQL(t, port, "SHOW PROC '/dbs/"+dbID+"/"+row["TableId"]+"/partitions'"))
	return parts
}

// InternalSchemaInitializer: made at 1 replica, raised to 3 at 3 backends
// (the scheduler then adds the replicas), never lowered.
func TestInternalSchema(t *testing.T) {
	for _, layout := range []Layout{Layout21, Layout3} {
		c, port, clk := tabletCluster(t, layout, 2)
		c.InitInternalSchema()
		tables := c.internalTables()
		for _, p := range partitionRows(t, port, InternalSchemaDB, tables[0]) {
			if p["ReplicationNum"] != "1" || p["Buckets"] != "7" {
				t.Fatalf("layout %d, 2 backends: %v, want 1 replica, 7 buckets", layout, p)
			}
		}
		c.AddBackend(Backend{Host: beHost(2), Alive: true})
		clk.advance(time.Minute)
		for _, tbl := range tables {
			for _, p := range partitionRows(t, port, InternalSchemaDB, tbl) {
				if p["ReplicationNum"] != "3" || p["ReplicaAllocation"] != "tag.location.default: 3" {
					t.Fatalf("layout %d, 3 backends: %s %v, want 3 replicas", layout, tbl, p)
				}
			}
		}
		want := 0
		c.mu.Lock()
		c.tabletsLocked(func(tb *tablet) {
			if len(tb.replicas) != 3 {
				t.Errorf("tablet %d has %d replicas", tb.id, len(tb.replicas))
			}
			want++
		})
		c.mu.Unlock()
		for i := 0; i < 3; i++ {
			if got := c.TabletsOn(beHost(i)); got != want {
				t.Errorf("%s holds %d replicas, want %d", beHost(i), got, want)
			}
		}
		c.SetAlive(beHost(2), false)
		clk.advance(time.Minute)
		if p := partitionRows(t, port, InternalSchemaDB, tables[0]); p[0]["ReplicationNum"] != "3" {
			t.Fatalf("lowered: %v", p[0])
		}
	}
}

// An MTMV: Type MATERIALIZED_VIEW and ReplicaCount 0 in '/dbs/<id>', yet
// its tablets count in TabletNum and move off a decommissioned backend.
func TestMaterializedView(t *testing.T) {
	c, port, clk := tabletCluster(t, Layout21, 3)
	if err := c.AddTable("sales", "orders", Partition{Name: "p1", ReplicationNum: 2, Buckets: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTableWith("sales", "mv_orders", TableOptions{Type: "MATERIALIZED_VIEW",
		Partitions: []Partition{{ReplicationNum: 1, Buckets: 6}}}); err != nil {
		t.Fatal(err)
	}
	_, row := tableRow(t, port, "sales", "mv_orders") // mysql --batch prints \N as \\N
	if row["Type"] != "MATERIALIZED_VIEW" || row["ReplicaCount"] != "0" || row["IndexNum"] != `\\N` || row["State"] != `\\N` ||
		row["PartitionNum"] != "1" {
		t.Fatalf("/dbs/<id> row: %v", row)
	}
	if p := partitionRows(t, port, "sales", "mv_orders"); len(p) != 1 || p[0]["ReplicationNum"] != "1" || p[0]["Buckets"] != "6" {
		t.Fatalf("partitions: %v", p)
	}
	if r := backendRow(t, port, beHost(2)); r["TabletNum"] != "2" {
		t.Fatalf("TabletNum %s, want the MTMV's 2", r["TabletNum"])
	}
	mustSQL(t, port, `ALTER SYSTEM DECOMMISSION BACKEND "`+beHost(2)+`:9050"`)
	clk.advance(time.Minute)
	if r := backendRow(t, port, beHost(2)); r != nil {
		t.Fatalf("still listed: %v", r)
	}
	if n := c.TabletsOn(beHost(0)) + c.TabletsOn(beHost(1)); n != 6+2 || c.LostTablets() != 0 {
		t.Fatalf("%d replicas left, %d lost", n, c.LostTablets())
	}
}

// replication_allocation with tags: replicas placed and moved only on
// their tag's backends; Tag shows the location; CREATE TABLE refuses a
// tag with too few backends.
func TestLocationTags(t *testing.T) {
	c, port, clk := tabletCluster(t, Layout21, 5)
	c.SetBackendLocation(beHost(3), "group_a")
	c.SetBackendLocation(beHost(4), "group_a")
	if r := backendRow(t, port, beHost(3)); r["Tag"] != `{"location" : "group_a"}` {
		t.Fatalf("Tag %q", r["Tag"])
	}
	mustSQL(t, port, "CREATE DATABASE sales")
	mustSQL(t, port, `CREATE TABLE sales.orders (k1 INT) DISTRIBUTED BY HASH(k1) BUCKETS 4 `+
		`PROPERTIES ("replication_allocation" = "tag.location.group_a: 2, tag.location.default: 1")`)
	p := partitionRows(t, port, "sales", "orders")
	if len(p) != 1 || p[0]["ReplicationNum"] != "3" || p[0]["ReplicaAllocation"] != "tag.location.default: 1, tag.location.group_a: 2" {
		t.Fatalf("partitions: %v", p)
	}
	for i, want := range []int{4, 4} {
		if got := c.TabletsOn(beHost(3 + i)); got != want {
			t.Fatalf("%s holds %d, want %d", beHost(3+i), got, want)
		}
	}
	out, err := mysqlBatch(t, port, "root", "", `CREATE TABLE sales.wide (k1 INT) DISTRIBUTED BY HASH(k1) BUCKETS 1 `+
		`PROPERTIES ("replication_allocation" = "tag.location.group_a: 3")`)
	if err == nil || !strings.Contains(out, `replication tag: {"location" : "group_a"}, replication num: 3`) {
		t.Fatalf("3 replicas on a 2-backend tag: %v\n%s", err, out)
	}
	// A default backend leaves: its replicas go to default backends only.
	mustSQL(t, port, `ALTER SYSTEM DECOMMISSION BACKEND "`+beHost(0)+`:9050"`)
	clk.advance(time.Minute)
	if backendRow(t, port, beHost(0)) != nil || c.TabletsOn(beHost(3)) != 4 || c.TabletsOn(beHost(4)) != 4 {
		t.Fatalf("be-0 listed %v; group_a holds %d, %d", backendRow(t, port, beHost(0)) != nil, c.TabletsOn(beHost(3)), c.TabletsOn(beHost(4)))
	}
	// A group_a backend leaves a group too small (2.1 without #32748): accepted, never finishes.
	mustSQL(t, port, `ALTER SYSTEM DECOMMISSION BACKEND "`+beHost(4)+`:9050"`)
	clk.advance(time.Hour)
	if r := backendRow(t, port, beHost(4)); r == nil || r["TabletNum"] != "4" {
		t.Fatalf("group_a decommission: %v, want stuck with 4", r)
	}
	replicasOK(t, c)
}

// The DECOMMISSION check of apache/doris PR #32748: 3.x refuses, with
// Doris' text, what 2.1 accepts and never finishes.
func TestDecommissionReplicaCheck(t *testing.T) {
	for _, tt := range []struct {
		layout  Layout
		refused bool
	}{{Layout20, false}, {Layout21, false}, {Layout3, true}} {
		c, port, clk := tabletCluster(t, tt.layout, 3)
		if err := c.AddTable("sales", "orders", Partition{Name: "p1", ReplicationNum: 3, Buckets: 2}); err != nil {
			t.Fatal(err)
		}
		out, err := mysqlBatch(t, port, "root", "", `ALTER SYSTEM DECOMMISSION BACKEND "`+beHost(2)+`:9050"`)
		want := "errCode = 2, detailMessage = After decommission, partition p1 of table sales.orders 's replication allocation " +
			`{ tag.location.default: 3 } > available backend num 2 on tag {"location" : "default"}, ` +
			"otherwise need to decrease the partition's replication num."
		if got := err != nil; got != tt.refused || tt.refused && !strings.Contains(out, want) {
			t.Fatalf("layout %d: refused %v, want %v:\n%s", tt.layout, got, tt.refused, out)
		}
		clk.advance(time.Hour)
		r := backendRow(t, port, beHost(2))
		if r == nil || r["SystemDecommissioned"] != map[bool]string{true: "false", false: "true"}[tt.refused] || r["TabletNum"] != "2" {
			t.Fatalf("layout %d after an hour: %v", tt.layout, r)
		}
	}
}

// The balancer fills a backend added later, within its tag, until the
// loads differ by at most one; not while disable_balance.
func TestBalancer(t *testing.T) {
	c, port, clk := tabletCluster(t, Layout21, 2)
	if err := c.AddTable("sales", "orders", Partition{Name: "p1", ReplicationNum: 1, Buckets: 30}); err != nil {
		t.Fatal(err)
	}
	c.SetDecommissionRate(5)
	mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("disable_balance" = "true")`)
	c.AddBackend(Backend{Host: beHost(2), Alive: true})
	c.AddBackend(Backend{Host: beHost(3), Alive: true, Location: "group_a"})
	clk.advance(time.Hour)
	if n := c.TabletsOn(beHost(2)); n != 0 {
		t.Fatalf("balanced with disable_balance: %d", n)
	}
	mustSQL(t, port, `ADMIN SET FRONTEND CONFIG ("disable_balance" = "false")`)
	clk.advance(time.Second)
	if n := c.TabletsOn(beHost(2)); n != 5 {
		t.Fatalf("after 1 s at 5/s: %d on the new backend", n)
	}
	clk.advance(time.Minute)
	for i, want := range []int{10, 10, 10, 0} {
		if got := c.TabletsOn(beHost(i)); got != want {
			t.Errorf("%s holds %d, want %d", beHost(i), got, want)
		}
	}
	replicasOK(t, c)
}
