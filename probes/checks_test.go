package probes_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/testport"
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
			h, judge := c.FEHealth(), cluster.FE.HealthBody
			if tt.be {
				h, judge = c.BEHealth(), cluster.BE.HealthBody
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			assertErr(t, probes.Health(context.Background(), hc, srv.URL+"/api/health", judge), tt.want)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		err := probes.Health(context.Background(), hc, "http://"+testport.Closed(t)+"/api/health", cluster.FrontendHealthy)
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

func TestPortOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	assertErr(t, probes.PortOpen(context.Background(), ln.Addr().String()), "")
	assertErr(t, probes.PortOpen(context.Background(), testport.Closed(t)), "not accepting")
}
