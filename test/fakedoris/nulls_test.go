package fakedoris

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// scanStrings runs q on addr and scans every column of every row into a
// plain Go string, as the operator does (apache/doris-operator
// pkg/common/utils/mysql/doris.go: Frontend.ErrMsg, Backend.ErrMsg,
// NodeRole, ... are strings, sqlx Select): a NULL cell fails the scan
// ("converting NULL to string is unsupported").
func scanStrings(t *testing.T, addr, q string) ([]string, [][]string, error) {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User = "tcp", addr, "root"
	cfg.Timeout, cfg.ReadTimeout = 5*time.Second, 5*time.Second
	cfg.AllowNativePasswords = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]string
	for rows.Next() {
		row := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return cols, nil, fmt.Errorf("%s: %w", q, err)
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

// checkHealthyRows wants every cell of SHOW FRONTENDS and SHOW BACKENDS on
// addr scannable into a string, and ErrMsg "" on each (healthy) row, as
// the operator's fixtures show it (apache/doris-operator
// pkg/common/utils/mysql/mysql_test.go, Doris 2.1.5).
func checkHealthyRows(t *testing.T, addr string, wantFE, wantBE int) {
	t.Helper()
	for _, c := range []struct {
		q    string
		want int
	}{{"SHOW FRONTENDS", wantFE}, {"SHOW BACKENDS", wantBE}} {
		cols, rows, err := scanStrings(t, addr, c.q)
		if err != nil {
			t.Fatalf("%s on %s: %v", c.q, addr, err)
		}
		if len(rows) != c.want {
			t.Fatalf("%s on %s: %d rows, want %d", c.q, addr, len(rows), c.want)
		}
		for _, r := range rows {
			for i, col := range cols {
				if col == "ErrMsg" && r[i] != "" {
					t.Errorf("%s on %s: a healthy row's ErrMsg %q, want \"\"", c.q, addr, r[i])
				}
			}
		}
	}
}

// A healthy cluster's SHOW FRONTENDS and SHOW BACKENDS scan into plain
// strings on every layout, from a master and through a forwarder (which
// re-sends the master's answer).
func TestShowsScanIntoStrings(t *testing.T) {
	for _, layout := range []Layout{Layout20, Layout21, Layout3} {
		t.Run(fmt.Sprintf("served layout %d", layout), func(t *testing.T) {
			c := NewCluster(layout)
			addr := ServeFrontendT(t, c, "127.0.0.1", "FOLLOWER", true)
			c.AddBackend(Backend{Host: "127.0.0.2", HeartbeatPort: 9050, Alive: true, NodeRole: "mix"})
			c.AddBackend(Backend{Host: "127.0.0.3", HeartbeatPort: 9050, Alive: true, NodeRole: "computation"})
			checkHealthyRows(t, addr, 1, 2)
		})
	}
	t.Run("fake FE processes", func(t *testing.T) {
		prefix, port := loopbackNet(t)
		fc := &feCluster{t: t, dir: t.TempDir(), prefix: prefix, port: port, nodes: map[string]*FENode{}}
		os.MkdirAll(filepath.Join(fc.dir, "fake"), 0o755)
		fc.start(1)
		fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD FOLLOWER "%s:9010"`, fc.host(2)))
		hbLn, err := net.Listen("tcp", fc.host(9)+":0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { hbLn.Close() })
		go ServeBEHeartbeat(hbLn, "doris-2.1.5-rc02-d5a02e095d")
		fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD BACKEND "%s:%d"`, fc.host(9), hbLn.Addr().(*net.TCPAddr).Port))
		fc.start(2, "--helper", fc.host(1)+":9010")
		waitFor(t, "FE 2 alive and the BE alive", func() bool {
			return fc.frontend(1, fc.host(2), "Alive") == "true" && fc.backend(1, fc.host(9), "Alive") == "true"
		})
		for _, i := range []int{1, 2} { // the master, then the forwarder
			checkHealthyRows(t, fc.addr(i), 2, 1)
		}
	})
}
