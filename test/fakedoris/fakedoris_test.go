package fakedoris

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func startFE(t *testing.T, c *Cluster, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := ServeFE(ln, c, host)
	t.Cleanup(func() { fe.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// mysqlBatch runs the real mysql client the way the entrypoints do.
func mysqlBatch(t *testing.T, port int, user, password, query string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("mysql"); err != nil {
		t.Fatal("the mysql client is needed (apt-get install default-mysql-client; .ci/run does)")
	}
	args := []string{"--skip-ssl", "-h127.0.0.1", "-P" + strconv.Itoa(port), "-u" + user, "--connect-timeout=2", "--batch", "-e", query}
	if password != "" {
		args = append(args, "-p"+password)
	}
	out, err := exec.Command("mysql", args...).CombinedOutput()
	return string(out), err
}

const master = "doriscluster-sample-fe-0.doriscluster-sample-fe-internal.default.svc.cluster.local"

// The --batch output of SHOW FRONTENDS has the layout of apache/doris
// FrontendsProcNode.java for each version: IsMaster 8th in 2.0, 9th in 2.1 and 3.x.
func TestShowFrontendsLayouts(t *testing.T) {
	for _, tt := range []struct {
		layout   Layout
		columns  int
		isMaster int
	}{{Layout20, 18, 8}, {Layout21, 19, 9}, {Layout3, 19, 9}} {
		c := NewCluster(tt.layout)
		c.AddFrontend(Frontend{Host: master, EditLogPort: 9010, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, ArrowPort: -1,
			Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
		port := startFE(t, c, master)
		out, err := mysqlBatch(t, port, "root", "", "show frontends;")
		if err != nil {
			t.Fatalf("mysql: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("want header + 1 row:\n%s", out)
		}
		head, row := strings.Split(lines[0], "\t"), strings.Split(lines[1], "\t")
		if len(head) != tt.columns || len(row) != tt.columns {
			t.Fatalf("layout %d: %d/%d columns, want %d:\n%s", tt.layout, len(head), len(row), tt.columns, out)
		}
		if head[tt.isMaster-1] != "IsMaster" || row[tt.isMaster-1] != "true" || row[1] != master || !strings.Contains(lines[1], "FOLLOWER") {
			t.Fatalf("layout %d: IsMaster not column %d or row wrong:\n%s", tt.layout, tt.isMaster, out)
		}
		if row[len(row)-1] != "Yes" {
			t.Errorf("CurrentConnected = %q, want Yes for the FE asked", row[len(row)-1])
		}
	}
}

func TestWrongPasswordIs1045(t *testing.T) {
	c := NewCluster(Layout21)
	c.SetPassword("root", "s3cret")
	port := startFE(t, c, master)
	out, err := mysqlBatch(t, port, "root", "", "show frontends;")
	if err == nil || !strings.Contains(out, "1045") || !strings.Contains(out, "28000") {
		t.Fatalf("want ERROR 1045 (28000), got %v:\n%s", err, out)
	}
	if out, err := mysqlBatch(t, port, "root", "s3cret", "select 1;"); err != nil {
		t.Fatalf("right password refused: %v\n%s", err, out)
	}
}

// The statements the entrypoints send change the shared state.
func TestAlterSystemAndAccounts(t *testing.T) {
	c := NewCluster(Layout3)
	c.AddFrontend(Frontend{Host: master, EditLogPort: 9010, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	port := startFE(t, c, master)
	for _, q := range []string{
		`ALTER SYSTEM ADD FOLLOWER "fe-1.internal:9010";`,
		`ALTER SYSTEM ADD OBSERVER "fe-3.internal:9010";`,
		`ALTER SYSTEM ADD BACKEND "be-0.internal:9050";`,
		`ALTER SYSTEM MODIFY BACKEND "be-0.internal:9050" SET ("disable_query" = "false","disable_load"="false");`,
		`CREATE USER 'dorisadm' IDENTIFIED BY 'pw';GRANT NODE_PRIV ON *.*.* TO dorisadm;`,
	} {
		if out, err := mysqlBatch(t, port, "root", "", q); err != nil {
			t.Fatalf("%s: %v\n%s", q, err, out)
		}
	}
	if out, err := mysqlBatch(t, port, "root", "", `ALTER SYSTEM ADD BACKEND "be-0.internal:9050";`); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate backend accepted:\n%s", out)
	}
	out, _ := mysqlBatch(t, port, "root", "", "show frontends;")
	if !strings.Contains(out, "fe-1.internal") || !strings.Contains(out, "OBSERVER") {
		t.Fatalf("new frontends missing:\n%s", out)
	}
	out, _ = mysqlBatch(t, port, "root", "", "show backends;")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || len(strings.Split(lines[0], "\t")) != 28 || !strings.Contains(lines[1], "be-0.internal\t9050") {
		t.Fatalf("SHOW BACKENDS (3.x, 28 columns):\n%s", out)
	}
	if _, err := mysqlBatch(t, port, "dorisadm", "pw", "select 1;"); err != nil {
		t.Fatal("created user cannot log in")
	}
}
