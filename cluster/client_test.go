package cluster_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

const masterHost = "doriscluster-sample-fe-0.doriscluster-sample-fe-internal.default.svc.cluster.local"

func fakeCluster(layout fakedoris.Layout) *fakedoris.Cluster {
	c := fakedoris.NewCluster(layout)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-1.internal", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", Alive: true, Join: true})
	c.AddFrontend(fakedoris.Frontend{Host: masterHost, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	return c
}

// The master is found by the IsMaster column's name in every layout.
func TestMasterByColumnName(t *testing.T) {
	for _, l := range []fakedoris.Layout{fakedoris.Layout20, fakedoris.Layout21, fakedoris.Layout3} {
		addr := fakedoris.ServeT(t, fakeCluster(l), masterHost)
		var cl cluster.Client
		fes, err := cl.ShowFrontends(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := cluster.Master(fes)
		if !ok || m.Host != masterHost || m.EditLogPort != 9010 || !m.Connected {
			t.Fatalf("layout %d: master %+v, %v", l, m, ok)
		}
	}
}

func TestNoMaster(t *testing.T) {
	c := fakeCluster(fakedoris.Layout21)
	c.SetNoMaster(true)
	var cl cluster.Client
	fes, err := cl.ShowFrontends(context.Background(), fakedoris.ServeT(t, c, masterHost))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cluster.Master(fes); ok || len(fes) != 2 {
		t.Fatalf("want members but no master, got %+v", fes)
	}
}

// Root without a password first; on 1045 the admin account; both refused is
// ErrAccessDenied, and the password is in no error.
func TestCredentialsFallback(t *testing.T) {
	c := fakeCluster(fakedoris.Layout21)
	c.SetPassword("root", "rootpw")
	c.SetPassword("dorisadm", "adm-Secret-1")
	addr := fakedoris.ServeT(t, c, masterHost)
	cl := cluster.Client{Admin: cluster.Credentials{User: "dorisadm", Password: "adm-Secret-1"}}
	if _, err := cl.ShowFrontends(context.Background(), addr); err != nil {
		t.Fatalf("admin fallback: %v", err)
	}
	cl.Admin.Password = "wrong-Secret-2"
	_, err := cl.ShowFrontends(context.Background(), addr)
	if !errors.Is(err, cluster.ErrAccessDenied) || strings.Contains(err.Error(), "Secret") {
		t.Fatalf("err = %v", err)
	}
}

// A client remembers the account that logged in last and tries it first:
// with root's password set, only the first round fails a root login; the
// later ones log in as the admin at once (they failed root every round, 16
// failed logins a minute per pod: an audit-log flood and a lockout risk).
// When the remembered account is refused, the other one is tried and
// remembered (issue 13 item 10).
func TestRemembersAccount(t *testing.T) {
	c := fakeCluster(fakedoris.Layout21)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, logins := fakedoris.CountLogins(ln)
	fe := fakedoris.ServeFE(ln, c, masterHost)
	t.Cleanup(func() { fe.Close() })
	cl := cluster.Client{Admin: cluster.Credentials{User: "dorisadm", Password: "adm-Secret-1"}}
	type count struct{ tried, refused int }
	for _, step := range []struct {
		name             string
		rootPW, adminPW  string
		rounds           int
		wantRoot, wantAd count // logins during the step
	}{
		{"root has a password", "rootpw", "adm-Secret-1", 5, count{1, 1}, count{5, 0}},
		{"root's password removed: the admin still works", "", "adm-Secret-1", 3, count{0, 0}, count{3, 0}},
		{"the admin's password rotated away", "", "rotated", 3, count{3, 0}, count{1, 1}},
		{"root has a password again", "rootpw2", "adm-Secret-1", 2, count{1, 1}, count{2, 0}},
	} {
		t.Run(step.name, func(t *testing.T) {
			c.SetPassword("root", step.rootPW)
			c.SetPassword("dorisadm", step.adminPW)
			root0 := count{logins.Tried("root"), logins.Refused("root")}
			ad0 := count{logins.Tried("dorisadm"), logins.Refused("dorisadm")}
			for range step.rounds {
				if _, err := cl.ShowFrontends(context.Background(), fe.Addr().String()); err != nil {
					t.Fatal(err)
				}
			}
			root := count{logins.Tried("root") - root0.tried, logins.Refused("root") - root0.refused}
			ad := count{logins.Tried("dorisadm") - ad0.tried, logins.Refused("dorisadm") - ad0.refused}
			if root != step.wantRoot || ad != step.wantAd {
				t.Fatalf("logins (tried, refused) in %d rounds: root %v, admin %v; want root %v, admin %v",
					step.rounds, root, ad, step.wantRoot, step.wantAd)
			}
		})
	}
}

func TestHostValidation(t *testing.T) {
	good := []string{"fe-0.fe-internal.default.svc.cluster.local", "10.0.0.1", "::1", "fd00::1", "FE-0", "a.b.c."}
	bad := []string{"", `x";DROP`, "-lead.example", "trail-.example", "a..b", "with space", "under_score", "a/b",
		strings.Repeat("a", 64) + ".com", "[::1]", "host:9010"}
	for _, h := range good {
		if err := cluster.ValidateHost(h); err != nil {
			t.Errorf("ValidateHost(%q) = %v", h, err)
		}
	}
	for _, h := range bad {
		if err := cluster.ValidateHost(h); err == nil {
			t.Errorf("ValidateHost(%q) accepted", h)
		}
	}
	if hp, err := cluster.HostPort("fd00::1", 9010); err != nil || hp != "[fd00::1]:9010" {
		t.Errorf("HostPort IPv6 = %q, %v", hp, err)
	}
	if _, err := cluster.HostPort("fe-0", 70000); err == nil {
		t.Error("port 70000 accepted")
	}
}

// A hostile host never reaches the FE; a valid one is added and seen.
func TestAddFrontendAndBackend(t *testing.T) {
	c := fakeCluster(fakedoris.Layout3)
	addr := fakedoris.ServeT(t, c, masterHost)
	var cl cluster.Client
	ctx := context.Background()
	if err := cl.AddFrontend(ctx, addr, true, `x";DROP`, 9010); err == nil {
		t.Fatal("hostile host accepted")
	}
	if n := len(c.Statements()); n != 0 {
		t.Fatalf("%d statements reached the FE", n)
	}
	if err := cl.AddFrontend(ctx, addr, false, "fe-3.internal", 9010); err != nil {
		t.Fatal(err)
	}
	if err := cl.AddBackend(ctx, addr, "be-0.internal", 9050); err != nil {
		t.Fatal(err)
	}
	if err := cl.EnableBackend(ctx, addr, "be-0.internal", 9050); err != nil {
		t.Fatal(err)
	}
	fes, _ := cl.ShowFrontends(ctx, addr)
	bes, _ := cl.ShowBackends(ctx, addr)
	if len(fes) != 3 || fes[2].Role != "OBSERVER" || len(bes) != 1 || bes[0].HeartbeatPort != 9050 || bes[0].NodeRole != "mix" {
		t.Fatalf("fes %+v bes %+v", fes, bes)
	}
}

// An FE that accepts but never answers costs the connect timeout, not more.
func TestTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting
		}
	}()
	cl := cluster.Client{ConnectTimeout: 200 * time.Millisecond, QueryTimeout: 300 * time.Millisecond}
	start := time.Now()
	if _, err := cl.ShowFrontends(context.Background(), ln.Addr().String()); err == nil {
		t.Fatal("silent FE answered")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s", el)
	}
}

func TestEnsureAdmin(t *testing.T) {
	c := fakeCluster(fakedoris.Layout21)
	addr := fakedoris.ServeT(t, c, masterHost)
	var cl cluster.Client
	ctx := context.Background()
	admin := cluster.Credentials{User: "dorisadm", Password: `p'w\"; DROP`}
	if created, err := cl.EnsureAdmin(ctx, addr, admin); !created || err != nil {
		t.Fatalf("EnsureAdmin = %v, %v", created, err)
	}
	// The quoted password round-trips: the new account logs in with it.
	cl2 := cluster.Client{Admin: admin}
	c.SetPassword("root", "now-set")
	if _, err := cl2.ShowFrontends(ctx, addr); err != nil {
		t.Fatalf("admin cannot log in: %v", err)
	}
	// Root has a password now: nothing is done, no error.
	if created, err := cl.EnsureAdmin(ctx, addr, cluster.Credentials{User: "other", Password: "x"}); created || err != nil {
		t.Fatalf("with a root password: %v, %v", created, err)
	}
	for _, bad := range []string{"admin", "a b", "x'--"} {
		if _, err := cl.EnsureAdmin(ctx, addr, cluster.Credentials{User: bad, Password: "x"}); err == nil {
			t.Errorf("user %q accepted", bad)
		}
	}
}
