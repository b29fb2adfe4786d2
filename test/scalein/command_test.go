package scalein_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// `doris-entrypoint scale-in`, as a person runs it through kubectl exec:
// the plan, the refusal, the decommission followed to the end, the kubectl
// patch line.
func TestScaleInCommand(t *testing.T) {
	tests := []struct {
		name        string
		kind        string
		replication int
		args        []string
		code        int
		want        []string
		gone        []int // ordinals no longer listed
	}{
		{name: "dry run prints the plan", kind: "be", replication: 1, args: []string{"--to", "3", "--dry-run"}, code: 0,
			want: []string{"scale-in be to 3", "goes: " + beHost(3), "goes: " + beHost(4), "single-replica partitions: 1", "safe: yes"}},
		{name: "be 5 to 3 decommissioned, then the patch line", kind: "be", replication: 1, args: []string{"--to", "3"}, code: 0,
			want: []string{"decommission sent: " + beHost(3), "0 of", "tablets left on 0 backends",
				`kubectl patch doriscluster doris --type merge -p '{"spec":{"beSpec":{"replicas":3}}}'`}, gone: []int{3, 4}},
		{name: "refused when the replicas would not fit", kind: "be", replication: 3, args: []string{"--to", "2"}, code: 1,
			want: []string{"safe: NO", "2 backends would remain on tag default, and partition p1 of sales.orders has 3 replicas there"}},
		{name: "bad usage", kind: "be", replication: 1, args: nil, code: 2},
		// A kind is be, cn or fe, lowercase: anything else is a usage error
		// like the others, before the FE is asked (it was exit 1).
		{name: "uppercase kind", kind: "BE", replication: 1, args: []string{"--to", "3"}, code: 2, want: []string{`kind "BE": want be, cn or fe`, "Usage:"}},
		{name: "unknown kind", kind: "xx", replication: 1, args: []string{"--to", "3"}, code: 2, want: []string{`kind "xx": want be, cn or fe`, "Usage:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hbs, roles := make([]int, 5), make([]string, 5)
			for i := range hbs {
				hbs[i], roles[i] = harness.FreePort(t, 0), "mix"
			}
			c, fe := fakeCluster(t, 5, tt.replication, hbs, roles)
			p := harness.Start(t, harness.Options{Bin: entrypoint, Args: append([]string{"scale-in", tt.kind}, tt.args...),
				Env: []string{"ENV_FE_ADDR=" + fe}})
			if code := p.Wait(t, wait); code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.code, p.Log())
			}
			t.Logf("output:\n%s", p.Log())
			for _, w := range tt.want {
				if !strings.Contains(p.Log(), w) {
					t.Errorf("output lacks %q:\n%s", w, p.Log())
				}
			}
			for _, ord := range tt.gone {
				if listedAfterRound(c, beHost(ord)) {
					t.Errorf("%s still listed", beHost(ord))
				}
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Errorf("%d tablets lost", lost)
			}
			if st := c.Statements(); tt.code == 2 && len(st) > 0 {
				t.Errorf("a usage error asked the FE: %q", st)
			}
		})
	}
}

// With HOST_TYPE=IP the backends are listed by their pod IPs: no ordinal
// tells which ones go, so `scale-in` refuses with exit 2 and the reason,
// and changes nothing (it used to print "nothing to do" and exit 0).
func TestScaleInCommandIPHosts(t *testing.T) {
	tests := []struct {
		name string
		kind string
	}{
		{name: "be", kind: "be"},
		{name: "cn", kind: "cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			c.AddFrontend(fakedoris.Frontend{Host: feHost, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
			for i := 0; i < 3; i++ {
				c.AddBackend(fakedoris.Backend{Host: fmt.Sprintf("10.244.0.%d", 10+i), HeartbeatPort: 9050, Alive: true, NodeRole: "mix"})
			}
			fe := fakedoris.ServeT(t, c, feHost)
			p := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"scale-in", tt.kind, "--to", "1"},
				Env: []string{"ENV_FE_ADDR=" + fe}})
			if code := p.Wait(t, wait); code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", code, p.Log())
			}
			if !strings.Contains(p.Log(), "listed by its IP address (HOST_TYPE=IP)") || strings.Contains(p.Log(), "nothing to do") {
				t.Fatalf("output does not say why:\n%s", p.Log())
			}
			for _, s := range c.Statements() {
				if strings.Contains(s, "ALTER SYSTEM") {
					t.Fatalf("changed the cluster: %s", s)
				}
			}
			if n := len(c.Backends()); n != 3 {
				t.Fatalf("%d backends listed, want 3", n)
			}
		})
	}
}
