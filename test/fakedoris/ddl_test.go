package fakedoris

import (
	"strings"
	"testing"
)

// CREATE DATABASE / CREATE TABLE from the real mysql client make the
// tablets a scale-in reads; Doris' errors for what it refuses.
func TestCreateTableOverSQL(t *testing.T) {
	c := NewCluster(Layout21)
	c.AddFrontend(Frontend{Host: master, EditLogPort: 9010, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	for _, h := range []string{"be-0", "be-1"} {
		c.AddBackend(Backend{Host: h, Alive: true})
	}
	port := startFE(t, c, master)
	for _, tt := range []struct {
		name, sql string
		wantErr   string // in the client's output; "": success
	}{
		{name: "database", sql: "CREATE DATABASE d1"},
		{name: "database again", sql: "CREATE DATABASE d1", wantErr: "ERROR 1007 (HY000) at line 1: errCode = 2, detailMessage = Can't create database 'd1'; database exists"},
		{name: "if not exists", sql: "CREATE DATABASE IF NOT EXISTS d1"},
		{name: "single replica", sql: `CREATE TABLE d1.single (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES ("replication_num" = "1")`},
		{name: "use and partitions", sql: "USE d1; CREATE TABLE parts (dt DATE, k INT) PARTITION BY RANGE(dt) (PARTITION p2024 VALUES LESS THAN ('2025-01-01'), " +
			"PARTITION `p2025` VALUES [('2025-01-01'), ('2026-01-01'))) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '2')"},
		{name: "too many replicas", sql: `CREATE TABLE d1.three (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ("replication_num" = "3")`,
			wantErr: "ERROR 1105 (HY000) at line 1: errCode = 2, detailMessage = Failed to find enough backend, please check the replication num,replication tag " +
				"and storage medium and avail capacity of backends or maybe all be on same host.\nCreate failed replications:\n" +
				`replication tag: {"location" : "default"}, replication num: 3, storage medium: HDD`},
		{name: "default replication", sql: "CREATE TABLE d1.dflt (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1", wantErr: "replication num: 3"},
		{name: "table exists", sql: `CREATE TABLE d1.single (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ("replication_num" = "1")`,
			wantErr: "ERROR 1050 (42S01) at line 1: errCode = 2, detailMessage = Table 'single' already exists"},
		{name: "unknown database", sql: "CREATE TABLE nodb.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1", wantErr: "ERROR 1049 (42000) at line 1: errCode = 2, detailMessage = Unknown database 'nodb'"},
		{name: "no database", sql: "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1", wantErr: "ERROR 1046 (3D000)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := mysqlBatch(t, port, "root", "", tt.sql)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(out, tt.wantErr)) {
				t.Fatalf("want %q, got %v:\n%s", tt.wantErr, err, out)
			}
		})
	}
	// 4 single-replica tablets + 2 partitions × 3 buckets × 2 replicas.
	if n := c.TabletsOn("be-0") + c.TabletsOn("be-1"); n != 4+12 {
		t.Errorf("%d replicas, want 16", n)
	}
	out, err := mysqlBatch(t, port, "root", "", "SHOW DATABASES; USE d1; SHOW TABLES; SELECT DATABASE()")
	for _, w := range []string{"d1", "Tables_in_d1", "single", "parts"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("lacks %q (%v):\n%s", w, err, out)
		}
	}
	names, rows, err := (&handler{fe: &FE{cluster: c}}).showProc("/dbs/10000")
	if err != nil || len(rows) != 2 || names[1] != "TableName" {
		t.Fatalf("SHOW PROC '/dbs/10000': %v %v %v", names, rows, err)
	}
}
