package cluster

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/fakedoris"
)

func TestFEAddrs(t *testing.T) {
	got, err := FEAddrs(" fe-svc , 10.0.0.2:19030,fd00::1 ,[fd00::2]:9031", 9030)
	want := []string{"fe-svc:9030", "10.0.0.2:19030", "[fd00::1]:9030", "[fd00::2]:9031"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("FEAddrs = %q, %v", got, err)
	}
	for _, bad := range []string{"", " , ", `fe";DROP`, "fe:99999", "fe:x"} {
		if _, err := FEAddrs(bad, 9030); err == nil {
			t.Errorf("FEAddrs(%q) accepted", bad)
		}
	}
}

func TestIdentity(t *testing.T) {
	host, _ := os.Hostname()
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n# comment "+host+"\n10.1.2.3\t"+host+".be-internal.svc.cluster.local "+host+"\n"), 0o644)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		ip   bool
		env  map[string]string
		want string
	}{
		{false, map[string]string{"POD_FQDN": "be-0.x"}, "be-0.x"},
		{false, nil, host + ".be-internal.svc.cluster.local"},
		{true, map[string]string{"POD_IP": "10.9.9.9"}, "10.9.9.9"},
		{true, nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		if got, err := Identity(tt.ip, env(tt.env), hosts); err != nil || got != tt.want {
			t.Errorf("Identity(ip=%v, %v) = %q, %v; want %q", tt.ip, tt.env, got, err, tt.want)
		}
	}
}

// The first FE address is dead: the next one registers the backend (the
// script only ever tries the first).
func TestRegisterTriesEveryAddress(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	c := fakedoris.NewCluster(fakedoris.Layout20)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-0", EditLogPort: 9010, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fe := fakedoris.ServeFE(ln, c, "fe-0")
	defer fe.Close()
	b := Registration{Client: &Client{ConnectTimeout: 500 * time.Millisecond}, FEAddrs: []string{deadAddr, ln.Addr().String()},
		Host: "be-0.test", HeartbeatPort: 9050, Interval: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if bes := c.Backends(); len(bes) != 1 || bes[0].Host != "be-0.test" {
		t.Fatalf("backends %+v", bes)
	}
	// Registered already: a second run only re-enables query and load.
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}
	var adds, modifies int
	for _, s := range c.Statements() {
		adds += strings.Count(s, "ADD BACKEND")
		modifies += strings.Count(s, "MODIFY BACKEND")
	}
	if adds != 1 || modifies != 1 {
		t.Fatalf("%d ADD, %d MODIFY: %q", adds, modifies, c.Statements())
	}
}

// No master: Register keeps waiting until its context ends.
func TestRegisterWaitsForMaster(t *testing.T) {
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-0", EditLogPort: 9010, Role: "FOLLOWER", Alive: true})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fe := fakedoris.ServeFE(ln, c, "fe-0")
	defer fe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	b := Registration{Client: &Client{}, FEAddrs: []string{ln.Addr().String()}, Host: "be-0", HeartbeatPort: 9050, Interval: 10 * time.Millisecond}
	if err := b.Register(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Register = %v, want the context's deadline", err)
	}
	if len(c.Backends()) != 0 {
		t.Fatal("added without a master")
	}
}

// Faults of the FE: dropped connections and slow answers are retried; a
// master change is followed.
func TestFaults(t *testing.T) {
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-0", EditLogPort: 9010, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	c.AddFrontend(fakedoris.Frontend{Host: "fe-1", EditLogPort: 9010, Role: "FOLLOWER", Alive: true, Join: true})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fe := fakedoris.ServeFE(ln, c, "fe-0")
	defer fe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &Client{ConnectTimeout: 300 * time.Millisecond, QueryTimeout: 300 * time.Millisecond}

	// Dropped connections, then a slow answer past the query timeout: the
	// BE keeps trying and registers once the FE behaves.
	c.DropConnections(3)
	c.SetDelay(time.Second)
	go func() {
		for len(c.Statements()) < 1 { // the slow answer has been asked at least once
			time.Sleep(5 * time.Millisecond)
		}
		c.SetDelay(0)
	}()
	b := Registration{Client: client, FEAddrs: []string{ln.Addr().String()}, Host: "be-0", HeartbeatPort: 9050, Interval: 10 * time.Millisecond}
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}

	// A master change: the FE joins with the new master as helper.
	c.SetMaster("fe-1")
	f := Join{Client: client, FEAddrs: []string{ln.Addr().String()}, Host: "fe-2", Ordinal: 2, EditLogPort: 9010, ElectNumber: 3,
		MetaDir: t.TempDir(), Interval: 10 * time.Millisecond}
	args, err := f.Prepare(ctx)
	if err != nil || strings.Join(args, " ") != "--helper fe-1:9010" {
		t.Fatalf("Prepare = %q, %v", args, err)
	}
}
