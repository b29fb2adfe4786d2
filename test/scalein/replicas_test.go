package scalein_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// The replica check per location tag, in every database: `scale-in be
// --to N --dry-run` says NO with the partition, tag and counts where a
// decommission could never finish (__internal_schema at 3 replicas, an
// MTMV, a tag group), yes where it can.
func TestScaleInCommandReplicaCheck(t *testing.T) {
	tests := []struct {
		name     string
		backends int
		to       string
		setup    func(t *testing.T, c *fakedoris.Cluster)
		code     int
		want     []string
	}{
		{name: "internal schema at 3 backends", backends: 3, to: "2", code: 1,
			setup: func(t *testing.T, c *fakedoris.Cluster) { c.InitInternalSchema() },
			want:  []string{"safe: NO — 2 backends would remain on tag default, and partition", "of __internal_schema.", "has 3 replicas there"}},
		{name: "mtmv at 3 replicas", backends: 3, to: "2", code: 1,
			setup: func(t *testing.T, c *fakedoris.Cluster) {
				must(t, c.AddTableWith("sales", "mv_daily", fakedoris.TableOptions{Type: "MATERIALIZED_VIEW",
					Partitions: []fakedoris.Partition{{ReplicationNum: 3, Buckets: 2}}}))
			},
			want: []string{"safe: NO — 2 backends would remain on tag default, and partition mv_daily of sales.mv_daily has 3 replicas there"}},
		{name: "group_a backend leaves", backends: 5, to: "4", code: 1, setup: groupA(3, 4),
			want: []string{"(on the tags that lose some: group_a 1)", "safe: NO — 1 backends would remain on tag group_a, and partition p1 of sales.regional has 2 replicas there"}},
		{name: "default backend leaves beside the group", backends: 5, to: "4", code: 0, setup: groupA(2, 3),
			want: []string{"(on the tags that lose some: default 2)", "safe: yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hbs, roles := make([]int, tt.backends), make([]string, tt.backends)
			for i := range hbs {
				hbs[i], roles[i] = harness.FreePort(t, 0), "mix"
			}
			c, fe := fakeCluster(t, tt.backends, 1, hbs, roles)
			tt.setup(t, c)
			p := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"scale-in", "be", "--to", tt.to, "--dry-run"},
				Env: []string{"ENV_FE_ADDR=" + fe}})
			if code := p.Wait(t, wait); code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.code, p.Log())
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Log(), w) {
					t.Errorf("output lacks %q:\n%s", w, p.Log())
				}
			}
			if d := c.Statements(); slices.ContainsFunc(d, func(s string) bool { return strings.Contains(s, "DECOMMISSION") }) {
				t.Errorf("a dry run decommissioned: %q", d)
			}
		})
	}
}

// groupA puts the backends of these ordinals in tag group_a and makes a
// table with 2 replicas there and 1 on default.
func groupA(ords ...int) func(t *testing.T, c *fakedoris.Cluster) {
	return func(t *testing.T, c *fakedoris.Cluster) {
		t.Helper()
		for _, o := range ords {
			c.SetBackendLocation(beHost(o), "group_a")
		}
		must(t, c.AddTable("sales", "regional", fakedoris.Partition{Name: "p1", Buckets: 4, Allocation: map[string]int{"group_a": 2, "default": 1}}))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A BE pod removed 3→2 while __internal_schema is at 3 replicas: its
// preStop refuses (ScaleInUnsafe, the reason naming the table), sends no
// DECOMMISSION and stops as before.
func TestScaleInInternalSchema(t *testing.T) {
	hbs, roles := mixBackends(t, 3)
	c, fe := fakeCluster(t, 3, 1, hbs, roles)
	c.InitInternalSchema()
	pd := startBE(t, fe, 2, hbs[2], "mix", 2, true)
	pd.prestop(t)
	if code := pd.p.Wait(t, wait); code != 143 {
		t.Errorf("exit %d, want 143 (an ordinary stop)", code)
	}
	if !slices.Contains(pd.api.EventReasons(), "ScaleInUnsafe") || !strings.Contains(pd.p.Log(), "of __internal_schema.") {
		t.Fatalf("events %q; log:\n%s", pd.api.EventReasons(), pd.p.Log())
	}
	for _, s := range c.Statements() {
		if strings.Contains(s, "DECOMMISSION") {
			t.Fatalf("decommissioned: %q", s)
		}
	}
}
