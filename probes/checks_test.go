package probes_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/probes/doris"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

const (
	feHost = "fe-0.fe-internal.default.svc.cluster.local"
	beHost = "be-0.be-internal.default.svc.cluster.local"
)

// newCluster is one FE master and one BE, both alive.
func newCluster() *fakedoris.Cluster {
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: feHost, EditLogPort: 9010, QueryPort: 9030, HTTPPort: 8030, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	c.AddFrontend(fakedoris.Frontend{Host: "fe-1.fe-internal.default.svc.cluster.local", EditLogPort: 9010, QueryPort: 9030,
		HTTPPort: 8030, Role: "FOLLOWER", Alive: true, Join: false})
	return c
}

// serveFE serves c's MySQL side on a loopback port and returns its address.
func serveFE(t *testing.T, c *fakedoris.Cluster) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := fakedoris.ServeFE(ln, c, feHost)
	t.Cleanup(func() { fe.Close() })
	return ln.Addr().String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHealthChecks(t *testing.T) {
	hc := probes.HTTPClient()
	for _, tt := range []struct {
		name  string
		be    bool
		fault fakedoris.HealthFault
		want  string // "" = healthy; else a part of the reason
	}{
		{"fe ok", false, fakedoris.HealthOK, ""},
		{"fe 503", false, fakedoris.HealthUnavailable, "503 Service Unavailable"},
		{"fe bad json", false, fakedoris.HealthBadJSON, "not the health JSON"},
		{"fe code 1", false, fakedoris.HealthCodeNotZero, "code 1"},
		{"be ok", true, fakedoris.HealthOK, ""},
		{"be 503", true, fakedoris.HealthUnavailable, "503 Service Unavailable"},
		{"be bad json", true, fakedoris.HealthBadJSON, "not the health JSON"},
		{"be not ok", true, fakedoris.HealthCodeNotZero, `status "NOT_READY"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster()
			c.SetHealth(tt.fault)
			h, check := c.FEHealth(), probes.FrontendHealth
			if tt.be {
				h, check = c.BEHealth(), probes.BackendHealth
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			assertErr(t, check(context.Background(), hc, srv.URL+"/api/health"), tt.want)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		err := probes.FrontendHealth(context.Background(), hc, "http://"+closedAddr(t)+"/api/health")
		assertErr(t, err, "connection refused")
	})
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
		admin doris.Credentials
		want  string
	}{
		{"listed alive joined", nil, feHost, doris.Credentials{}, ""},
		{"not listed", nil, "fe-9.fe-internal.default.svc.cluster.local", doris.Credentials{}, "does not list fe-9"},
		{"not alive", func(c *fakedoris.Cluster) { c.SetAlive(feHost, false) }, feHost, doris.Credentials{}, "Alive=false"},
		{"not joined", nil, "fe-1.fe-internal.default.svc.cluster.local", doris.Credentials{}, "Join=false"},
		{"admin after root", func(c *fakedoris.Cluster) {
			c.SetPassword("root", "root-Secret-0")
			c.SetPassword("dorisadm", "adm-Secret-1")
		}, feHost, doris.Credentials{User: "dorisadm", Password: "adm-Secret-1"}, ""},
		{"wrong password", func(c *fakedoris.Cluster) {
			c.SetPassword("root", "root-Secret-0")
			c.SetPassword("dorisadm", "adm-Secret-1")
		}, feHost, doris.Credentials{User: "dorisadm", Password: "wrong-Secret-2"}, "access denied for root, then dorisadm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster()
			if tt.setup != nil {
				tt.setup(c)
			}
			cl := &doris.Client{Admin: tt.admin}
			err := probes.FrontendMember(context.Background(), cl, serveFE(t, c), tt.host, 9010)
			assertErr(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "Secret") {
				t.Fatalf("a password in the reason: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		err := probes.FrontendMember(context.Background(), &doris.Client{}, closedAddr(t), feHost, 9010)
		assertErr(t, err, "connection refused")
	})
}

func TestBackendMember(t *testing.T) {
	register := func(c *fakedoris.Cluster, addr string) {
		t.Helper()
		if err := (&doris.Client{}).AddBackend(context.Background(), addr, beHost, 9050); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("alive via the second FE, the first unreachable", func(t *testing.T) {
		c := newCluster()
		addr := serveFE(t, c)
		register(c, addr)
		before := len(c.Statements())
		assertErr(t, probes.BackendMember(context.Background(), &doris.Client{}, []string{closedAddr(t), addr}, beHost, 9050), "")
		if n := len(c.Statements()) - before; n != 1 {
			t.Fatalf("%d statements, want 1: %q", n, c.Statements()[before:])
		}
	})
	t.Run("not alive", func(t *testing.T) {
		c := newCluster()
		addr := serveFE(t, c)
		register(c, addr)
		c.SetAlive(beHost, false)
		assertErr(t, probes.BackendMember(context.Background(), &doris.Client{}, []string{addr}, beHost, 9050), "Alive=false")
	})
	t.Run("not listed", func(t *testing.T) {
		addr := serveFE(t, newCluster())
		assertErr(t, probes.BackendMember(context.Background(), &doris.Client{}, []string{addr}, beHost, 9050), "does not list "+beHost+":9050")
	})
	t.Run("wrong password stops at the first FE", func(t *testing.T) {
		c := newCluster()
		c.SetPassword("root", "root-Secret-0")
		a, b := serveFE(t, c), serveFE(t, c)
		err := probes.BackendMember(context.Background(), &doris.Client{Admin: doris.Credentials{User: "root", Password: "wrong-Secret-2"}},
			[]string{a, b}, beHost, 9050)
		assertErr(t, err, "access denied")
		if strings.Contains(err.Error(), b) || strings.Contains(err.Error(), "Secret") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no FE reachable", func(t *testing.T) {
		err := probes.BackendMember(context.Background(), &doris.Client{}, []string{closedAddr(t), closedAddr(t)}, beHost, 9050)
		assertErr(t, err, "connection refused")
	})
}

func TestPortOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	assertErr(t, probes.PortOpen(context.Background(), ln.Addr().String()), "")
	assertErr(t, probes.PortOpen(context.Background(), closedAddr(t)), "not accepting")
}
