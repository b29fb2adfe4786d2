package cluster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/testport"
)

const (
	feHost = "fe-0.fe-internal.default.svc.cluster.local"
	beHost = "be-0.be-internal.default.svc.cluster.local"
)

// newCluster is one FE master and one BE, both alive.
func newMemberCluster() *fakedoris.Cluster {
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: feHost, EditLogPort: 9010, QueryPort: 9030, HTTPPort: 8030, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	c.AddFrontend(fakedoris.Frontend{Host: "fe-1.fe-internal.default.svc.cluster.local", EditLogPort: 9010, QueryPort: 9030,
		HTTPPort: 8030, Role: "FOLLOWER", Alive: true, Join: false})
	return c
}

func assertErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unhealthy: %v", err)
	case want != "" && err == nil:
		t.Fatalf("healthy, want an error with %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q, want %q in it", err, want)
	}
}

func TestFrontendMember(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(c *fakedoris.Cluster)
		host  string
		admin cluster.Credentials
		want  string
	}{
		{"listed alive joined", nil, feHost, cluster.Credentials{}, ""},
		{"not listed", nil, "fe-9.fe-internal.default.svc.cluster.local", cluster.Credentials{}, "does not list fe-9"},
		{"not alive", func(c *fakedoris.Cluster) { c.SetAlive(feHost, false) }, feHost, cluster.Credentials{}, "Alive=false"},
		{"not joined", nil, "fe-1.fe-internal.default.svc.cluster.local", cluster.Credentials{}, "Join=false"},
		{"admin after root", func(c *fakedoris.Cluster) {
			c.SetPassword("root", "root-Secret-0")
			c.SetPassword("dorisadm", "adm-Secret-1")
		}, feHost, cluster.Credentials{User: "dorisadm", Password: "adm-Secret-1"}, ""},
		{"wrong password", func(c *fakedoris.Cluster) {
			c.SetPassword("root", "root-Secret-0")
			c.SetPassword("dorisadm", "adm-Secret-1")
		}, feHost, cluster.Credentials{User: "dorisadm", Password: "wrong-Secret-2"}, "access denied for root, then dorisadm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newMemberCluster()
			if tt.setup != nil {
				tt.setup(c)
			}
			cl := &cluster.Client{Admin: tt.admin}
			err := cluster.FrontendMember(context.Background(), cl, fakedoris.ServeT(t, c, feHost), tt.host, 9010)
			assertErr(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "Secret") {
				t.Fatalf("a password in the reason: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		err := cluster.FrontendMember(context.Background(), &cluster.Client{}, testport.Closed(t), feHost, 9010)
		assertErr(t, err, "connection refused")
	})
}

func TestBackendMember(t *testing.T) {
	register := func(c *fakedoris.Cluster, addr string) {
		t.Helper()
		if err := (&cluster.Client{}).AddBackend(context.Background(), addr, beHost, 9050); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("alive via the second FE, the first unreachable", func(t *testing.T) {
		c := newMemberCluster()
		addr := fakedoris.ServeT(t, c, feHost)
		register(c, addr)
		before := len(c.Statements())
		assertErr(t, cluster.BackendMember(context.Background(), &cluster.Client{}, []string{testport.Closed(t), addr}, beHost, 9050), "")
		if n := len(c.Statements()) - before; n != 1 {
			t.Fatalf("%d statements, want 1: %q", n, c.Statements()[before:])
		}
	})
	t.Run("not alive", func(t *testing.T) {
		c := newMemberCluster()
		addr := fakedoris.ServeT(t, c, feHost)
		register(c, addr)
		c.SetAlive(beHost, false)
		assertErr(t, cluster.BackendMember(context.Background(), &cluster.Client{}, []string{addr}, beHost, 9050), "Alive=false")
	})
	t.Run("not listed", func(t *testing.T) {
		addr := fakedoris.ServeT(t, newMemberCluster(), feHost)
		assertErr(t, cluster.BackendMember(context.Background(), &cluster.Client{}, []string{addr}, beHost, 9050), "does not list "+beHost+":9050")
	})
	t.Run("wrong password stops at the first FE", func(t *testing.T) {
		c := newMemberCluster()
		c.SetPassword("root", "root-Secret-0")
		a, b := fakedoris.ServeT(t, c, feHost), fakedoris.ServeT(t, c, feHost)
		err := cluster.BackendMember(context.Background(), &cluster.Client{Admin: cluster.Credentials{User: "root", Password: "wrong-Secret-2"}},
			[]string{a, b}, beHost, 9050)
		assertErr(t, err, "access denied")
		if strings.Contains(err.Error(), b) || strings.Contains(err.Error(), "Secret") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no FE reachable", func(t *testing.T) {
		err := cluster.BackendMember(context.Background(), &cluster.Client{}, []string{testport.Closed(t), testport.Closed(t)}, beHost, 9050)
		assertErr(t, err, "connection refused")
	})
}
