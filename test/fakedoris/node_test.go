package fakedoris

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// execSQL runs q on addr as root and returns the rows as strings (nil on an error).
func execSQL(t *testing.T, addr, q string) ([][]string, error) {
	t.Helper()
	conn, err := client.Connect(addr, "root", "", "")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := conn.Execute(q)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	if r.Resultset == nil {
		return rows, nil
	}
	for i := range r.RowNumber() {
		var row []string
		for j := range r.ColumnNumber() {
			s, _ := r.GetString(i, j)
			row = append(row, s)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// column is the value of column name in the row whose Host is host.
func column(rows [][]string, names []string, host, name string) string {
	hi, ci := -1, -1
	for i, n := range names {
		if n == "Host" {
			hi = i
		}
		if n == name {
			ci = i
		}
	}
	for _, r := range rows {
		if hi >= 0 && ci >= 0 && r[hi] == host {
			return r[ci]
		}
	}
	return ""
}

// loopbackNet picks a /24 of 127/8 for the test's nodes, and a port free
// on its first address.
func loopbackNet(t *testing.T) (string, int) {
	t.Helper()
	prefix := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(250), 1+rand.IntN(250))
	ln, err := net.Listen("tcp", prefix+"1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return prefix, ln.Addr().(*net.TCPAddr).Port
}

type feCluster struct {
	t      *testing.T
	dir    string
	prefix string
	port   int
	nodes  map[string]*FENode
	own    bool // each FE its own FAKE_DIR (fake/HOST), as under an unmodified operator
}

func (fc *feCluster) host(i int) string { return fc.prefix + strconv.Itoa(i) }

// start runs the fake FE at host(i) (its own loopback address, the same
// ports as every other, as in a pod network).
func (fc *feCluster) start(i int, args ...string) *FENode {
	fc.t.Helper()
	conf := filepath.Join(fc.dir, fmt.Sprintf("fe%d.conf", i))
	os.WriteFile(conf, []byte(fmt.Sprintf("query_port = %d\nhttp_port = 8030\nedit_log_port = 9010\n", fc.port)), 0o644)
	dir := filepath.Join(fc.dir, "fake")
	if fc.own {
		dir = filepath.Join(dir, fc.host(i))
		os.MkdirAll(dir, 0o755)
	}
	n, err := StartFE(FEOptions{Conf: conf, Args: args, Dir: dir, Self: fc.host(i), Bind: fc.host(i),
		Heartbeat: 100 * time.Millisecond, Version: "doris-2.1.5-rc02-fe" + strconv.Itoa(i)})
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.nodes[fc.host(i)] = n
	fc.t.Cleanup(func() { n.Close() })
	return n
}

func (fc *feCluster) addr(i int) string { return net.JoinHostPort(fc.host(i), strconv.Itoa(fc.port)) }

var feNames = []string{"Name", "Host", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "ArrowFlightSqlPort", "Role", "IsMaster",
	"ClusterId", "Join", "Alive", "ReplayedJournalId", "LastStartTime", "LastHeartbeat", "IsHelper", "ErrMsg", "Version", "CurrentConnected"}

// frontend is one column of host's row in SHOW FRONTENDS asked on FE i.
func (fc *feCluster) frontend(i int, host, col string) string {
	rows, err := execSQL(fc.t, fc.addr(i), "SHOW FRONTENDS")
	if err != nil {
		return "error: " + err.Error()
	}
	return column(rows, feNames, host, col)
}

var beNames = []string{"BackendId", "Host", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "ArrowFlightSqlPort", "LastStartTime",
	"LastHeartbeat", "Alive", "SystemDecommissioned", "TabletNum", "DataUsedCapacity", "TrashUsedCapacity", "AvailCapacity",
	"TotalCapacity", "UsedPct", "MaxDiskUsedPct", "RemoteUsedCapacity", "Tag", "ErrMsg", "Version", "Status", "HeartbeatFailureCounter", "NodeRole"}

func (fc *feCluster) backend(i int, host, col string) string {
	rows, err := execSQL(fc.t, fc.addr(i), "SHOW BACKENDS")
	if err != nil {
		return "error: " + err.Error()
	}
	return column(rows, beNames, host, col)
}

func (fc *feCluster) must(i int, q string) {
	fc.t.Helper()
	if _, err := execSQL(fc.t, fc.addr(i), q); err != nil {
		fc.t.Fatalf("%s on FE %d: %v", q, i, err)
	}
}

// Three fake FE processes on their own addresses with one FAKE_DIR: the
// master heartbeats (an FE added but not started is neither alive nor
// joined; started, it is both and shows its version; a BE's version comes
// from its heartbeat port, and a stopped BE is not alive); data made over
// SQL on a follower; the master stops: the first alive follower by Host
// becomes master with the data, the other follows it, a restarted old
// master forwards; the new master restarts and is master again with the
// data, the configs at their defaults.
func TestFEHeartbeatAndFailover(t *testing.T) {
	prefix, port := loopbackNet(t)
	fc := &feCluster{t: t, dir: t.TempDir(), prefix: prefix, port: port, nodes: map[string]*FENode{}}
	os.MkdirAll(filepath.Join(fc.dir, "fake"), 0o755)
	fe1 := fc.start(1)
	if !fe1.IsMaster() {
		t.Fatal("the first FE without --helper is not master")
	}
	if b, _ := os.ReadFile(filepath.Join(fc.dir, "fake", "master")); string(b) != fc.addr(1) {
		t.Fatalf("master file %q, want %s", b, fc.addr(1))
	}
	fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD FOLLOWER "%s:9010"`, fc.host(2)))
	fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD FOLLOWER "%s:9010"`, fc.host(3)))
	hbLn, err := net.Listen("tcp", fc.host(9)+":0")
	if err != nil {
		t.Fatal(err)
	}
	go ServeBEHeartbeat(hbLn, "doris-2.1.6-rc01-0123456789")
	fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD BACKEND "%s:%d"`, fc.host(9), hbLn.Addr().(*net.TCPAddr).Port))
	waitFor(t, "the BE's version by heartbeat", func() bool {
		return fc.backend(1, fc.host(9), "Version") == "doris-2.1.6-rc01-0123456789" && fc.backend(1, fc.host(9), "Alive") == "true"
	})
	if a, j := fc.frontend(1, fc.host(2), "Alive"), fc.frontend(1, fc.host(2), "Join"); a != "false" || j != "false" {
		t.Fatalf("an FE never started: Alive %s Join %s", a, j)
	}
	fc.start(2, "--helper", fc.host(1)+":9010")
	fc.start(3, "--helper", fc.host(1)+":9010")
	for _, i := range []int{2, 3} {
		waitFor(t, fmt.Sprintf("FE %d alive, joined, its version", i), func() bool {
			return fc.frontend(3, fc.host(i), "Alive") == "true" && fc.frontend(3, fc.host(i), "Join") == "true" &&
				fc.frontend(3, fc.host(i), "Version") == "doris-2.1.5-rc02-fe"+strconv.Itoa(i)
		})
	}
	fc.must(2, "CREATE DATABASE d")
	fc.must(3, `CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 5 PROPERTIES ("replication_num" = "1")`)
	fc.must(1, `ADMIN SET FRONTEND CONFIG ("disable_balance" = "true")`)
	hbLn.Close()
	waitFor(t, "the stopped BE not alive", func() bool { return fc.backend(2, fc.host(9), "Alive") == "false" })

	fe1.Close()
	waitFor(t, "FE 2 master", func() bool { return fc.nodes[fc.host(2)].IsMaster() })
	waitFor(t, "FE 3 shows FE 2 as master and FE 1 not alive", func() bool {
		return fc.frontend(3, fc.host(2), "IsMaster") == "true" && fc.frontend(3, fc.host(1), "IsMaster") == "false" &&
			fc.frontend(3, fc.host(1), "Alive") == "false"
	})
	if fc.nodes[fc.host(3)].IsMaster() {
		t.Fatal("two masters")
	}
	if b, _ := os.ReadFile(filepath.Join(fc.dir, "fake", "master")); string(b) != fc.addr(2) {
		t.Fatalf("master file %q, want %s", b, fc.addr(2))
	}
	if n := fc.nodes[fc.host(2)].Cluster().TabletsOn(fc.host(9)); n != 5 {
		t.Fatalf("the new master has %d tablets on the BE, want 5", n)
	}
	if v, _ := fc.nodes[fc.host(2)].Cluster().FrontendConfig("disable_balance"); v != "false" {
		t.Fatalf("disable_balance %s on the new master, want the default", v)
	}
	fe1 = fc.start(1) // restarted with metadata: no --helper
	waitFor(t, "the old master back, a follower", func() bool { return fc.frontend(1, fc.host(1), "Alive") == "true" })
	if fe1.IsMaster() || fc.frontend(1, fc.host(2), "IsMaster") != "true" {
		t.Fatal("the restarted old master took over again")
	}
	// The master restarts: master again, with the state.
	fc.nodes[fc.host(2)].Close()
	fe2 := fc.start(2)
	if !fe2.IsMaster() {
		t.Fatal("the restarted master is not master")
	}
	rows, err := execSQL(t, fc.addr(3), "SHOW DATABASES")
	if err != nil || !strings.Contains(fmt.Sprint(rows), "d") {
		t.Fatalf("databases after the master's restart: %v %v", rows, err)
	}
	waitFor(t, "all three alive", func() bool {
		return fc.frontend(1, fc.host(1), "Alive") == "true" && fc.frontend(1, fc.host(3), "Alive") == "true" &&
			fc.frontend(1, fc.host(2), "IsMaster") == "true"
	})
	if fe1.IsMaster() || fc.nodes[fc.host(3)].IsMaster() {
		t.Fatal("two masters after the restart")
	}
}
