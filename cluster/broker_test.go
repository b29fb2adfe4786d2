package cluster_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

const podBroker = "doris-broker-0.doris-broker-internal.doris.svc.cluster.local"

// brokerCluster is an FE master (none when noMaster) behind a fake FE.
func brokerCluster(t *testing.T, noMaster bool) (*fakedoris.Cluster, string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: feMaster, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	c.SetNoMaster(noMaster)
	return c, fakedoris.ServeT(t, c, feMaster)
}

func deadFE(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func testClient() *cluster.Client {
	return &cluster.Client{ConnectTimeout: 500 * time.Millisecond, QueryTimeout: 2 * time.Second}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The first FE address is dead: the next one registers the broker; a second
// run finds it listed and adds nothing (broker_entrypoint.sh asks each
// address once and matches the host alone).
func TestBrokerRegisterIdempotent(t *testing.T) {
	c, fe := brokerCluster(t, false)
	// Another broker on the same host and another name on our address: not us.
	c.AddBroker(fakedoris.FsBroker{Name: "broker001", Host: podBroker, Port: 8001, Alive: true})
	c.AddBroker(fakedoris.FsBroker{Name: "hdfs_other", Host: podBroker, Port: 8000, Alive: true})
	b := cluster.BrokerRegistration{Client: testClient(), FEAddrs: []string{deadFE(t), fe}, Name: "broker001", Host: podBroker, Port: 8000,
		Interval: 10 * time.Millisecond}
	for run := 1; run <= 2; run++ {
		if err := b.Register(ctxT(t, 30*time.Second)); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	adds := statements(c, "ADD BROKER")
	if want := "ALTER SYSTEM ADD BROKER `broker001` \"" + podBroker + ":8000\""; len(adds) != 1 || adds[0] != want {
		t.Fatalf("ADD statements %q, want one %q", adds, want)
	}
	if n := len(c.Brokers()); n != 3 {
		t.Fatalf("brokers %+v", c.Brokers())
	}
}

// No master: Register keeps waiting, adds nothing, and returns with its
// context (the debug annotation, SIGTERM).
func TestBrokerRegisterWaitsForMaster(t *testing.T) {
	c, fe := brokerCluster(t, true)
	b := cluster.BrokerRegistration{Client: testClient(), FEAddrs: []string{fe}, Name: "broker001", Host: podBroker, Port: 8000,
		Interval: 10 * time.Millisecond}
	if err := b.Register(ctxT(t, 300*time.Millisecond)); err != context.DeadlineExceeded {
		t.Fatalf("Register = %v, want the context's deadline", err)
	}
	if len(c.Brokers()) != 0 || len(statements(c, "ADD BROKER")) != 0 {
		t.Fatalf("added without a master: %q", c.Statements())
	}
}

// A refused ADD is retried; one answered "already in brokers" (another FE
// added it first) counts only once SHOW BROKER lists the broker.
func TestBrokerRegisterRefusals(t *testing.T) {
	for _, msg := range []string{"Broker(x:1) has already in brokers.", "Access denied; you need (at least one of) the NODE privilege(s)"} {
		t.Run(msg, func(t *testing.T) {
			c, fe := brokerCluster(t, false)
			c.RefuseStatements("ADD BROKER", msg)
			b := cluster.BrokerRegistration{Client: testClient(), FEAddrs: []string{fe}, Name: "broker001", Host: podBroker, Port: 8000,
				Interval: 10 * time.Millisecond}
			if err := b.Register(ctxT(t, 300*time.Millisecond)); err != context.DeadlineExceeded {
				t.Fatalf("Register = %v, want the context's deadline", err)
			}
			if n := len(statements(c, "ADD BROKER")); n < 2 {
				t.Fatalf("%d ADD attempts: not retried", n)
			}
		})
	}
}

// Nothing read from outside reaches SQL unvalidated: a hostile name, host
// or port is refused before any statement.
func TestBrokerRegisterValidates(t *testing.T) {
	tests := []struct {
		name, broker, host string
		port               int
		want               string
	}{
		{"quote in the name", "b`; DROP DATABASE x; --", podBroker, 8000, "invalid broker name"},
		{"empty name", "", podBroker, 8000, "invalid broker name"},
		{"name starting with a digit", "1broker", podBroker, 8000, "invalid broker name"},
		{"name too long", strings.Repeat("b", 65), podBroker, 8000, "invalid broker name"},
		{"hostile host", "broker001", `x";DROP`, 8000, "invalid host name"},
		{"port 0", "broker001", podBroker, 0, "invalid port"},
		{"port too high", "broker001", podBroker, 65536, "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fe := brokerCluster(t, false)
			b := cluster.BrokerRegistration{Client: testClient(), FEAddrs: []string{fe}, Name: tt.broker, Host: tt.host, Port: tt.port}
			if err := b.Register(ctxT(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register = %v, want %q", err, tt.want)
			}
			if s := c.Statements(); len(s) != 0 {
				t.Fatalf("statements sent: %q", s)
			}
		})
	}
	for _, ok := range []string{"broker001", "hdfs_broker", "s3-broker", "B" + strings.Repeat("x", 63)} {
		if err := cluster.ValidateBrokerName(ok); err != nil {
			t.Errorf("ValidateBrokerName(%q) = %v", ok, err)
		}
	}
}

// broker is a broker pod whose conf sets broker_ipc_port.
func broker(t *testing.T, host, fe, conf string, p cluster.Placement, ev *events) *cluster.Node {
	t.Helper()
	n := node(t, cluster.Broker, host, fe, p, nil, ev)
	if err := os.WriteFile(filepath.Join(n.Root, cluster.Broker.Conf), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// The broker row: its bootstrap registers host:broker_ipc_port (the conf's,
// else 8000) under its name, it is a member while SHOW BROKER lists it
// alive, and a scale-in drops it after it stopped; a restart keeps it.
func TestBrokerNode(t *testing.T) {
	tests := []struct {
		name, conf, brokerName string
		port                   int
	}{
		{"conf port, default name", "# the rpc port\nbroker_ipc_port = 8123\n", "", 8123},
		{"default port, own name", "client_expire_seconds = 300\n", "hdfs_b", 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fe := brokerCluster(t, false)
			ev := &events{}
			n := broker(t, podBroker, fe, tt.conf, cluster.Placement{StatefulSet: "doris-broker", Ordinal: 0, Replicas: 1}, ev)
			n.BrokerName = tt.brokerName
			want := fakedoris.FsBroker{Name: tt.brokerName, Host: podBroker, Port: tt.port, Alive: true}
			if want.Name == "" {
				want.Name = cluster.DefaultBrokerName
			}
			if args, err := n.Bootstrap(ctxT(t, 30*time.Second), nil); err != nil || len(args) != 0 {
				t.Fatalf("Bootstrap = %q, %v", args, err)
			}
			if got := c.Brokers(); len(got) != 1 || got[0] != want {
				t.Fatalf("brokers %+v, want %+v", got, want)
			}
			if err := n.Member(ctxT(t, 5*time.Second)); err != nil {
				t.Fatalf("Member: %v", err)
			}
			c.SetAlive(podBroker, false)
			if err := n.Member(ctxT(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), "Alive=false") {
				t.Fatalf("Member of a dead broker = %v", err)
			}

			// A restart (ordinal 0 < 1 replica): it stays.
			n.AfterStop(ctxT(t, 5*time.Second))
			if len(c.Brokers()) != 1 || ev.has("BrokerDropped") {
				t.Fatalf("dropped on a restart: %+v", c.Brokers())
			}
			// Scaled in to 0: dropped once it stopped.
			gone := broker(t, podBroker, fe, tt.conf, cluster.Placement{StatefulSet: "doris-broker", Ordinal: 0, Replicas: 0}, ev)
			gone.BrokerName = tt.brokerName
			gone.AfterStop(ctxT(t, 5*time.Second))
			if len(c.Brokers()) != 0 || !ev.has("BrokerDropped") {
				t.Fatalf("not dropped on a scale-in: %+v, events %q", c.Brokers(), ev.reasons)
			}
			if err := n.Member(ctxT(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), "does not list") {
				t.Fatalf("Member of a dropped broker = %v", err)
			}
		})
	}
}

// The broker row's table entries: only broker_ipc_port moves in debug mode,
// start_broker.sh runs without --console, the stop budget is Kubernetes'
// default grace period less 10 s.
func TestBrokerRow(t *testing.T) {
	b, ok := cluster.Components["broker"]
	if !ok {
		t.Fatal("no broker row")
	}
	if ports := b.DebugPorts(); len(ports) != 1 || ports[0].Key != "broker_ipc_port" || ports[0].Default != 8000 {
		t.Errorf("DebugPorts %+v", ports)
	}
	if len(b.Args) != 0 || b.CommandLine() != "apache_hdfs_broker/bin/start_broker.sh" {
		t.Errorf("command line %q", b.CommandLine())
	}
	if got := b.StopTimeout(); got != 20*time.Second {
		t.Errorf("StopTimeout %s", got)
	}
	if got := cluster.FE.CommandLine(); got != "fe/bin/start_fe.sh --console" {
		t.Errorf("FE command line %q", got)
	}
	names := map[string]bool{}
	for _, c := range cluster.Components {
		for _, n := range []string{c.Entrypoint, c.Prestop, c.IsAlive} {
			if n != "" && names[n] {
				t.Errorf("%s names two commands", n)
			}
			names[n] = true
		}
	}
}
