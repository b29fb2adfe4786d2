package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// What Doris must move, per location tag, in every database: the BE's
// preStop refuses a decommission that could never finish (ScaleInUnsafe,
// no DECOMMISSION sent), and a DECOMMISSION the FE refuses is a clear
// "cannot decommission", sent once.
func TestBackendScaleInReplicaCheck(t *testing.T) {
	tests := []struct {
		name      string
		layout    fakedoris.Layout
		locations []string // per backend ordinal; "": default
		leaving   int      // the ordinal that goes (replicas = leaving)
		setup     func(t *testing.T, c *fakedoris.Cluster)
		want      string // the event
		msg       []string
		sent      int // DECOMMISSION statements
	}{
		{name: "__internal_schema raised to 3 at 3 backends", layout: fakedoris.Layout21, locations: make([]string, 3), leaving: 2,
			setup: func(t *testing.T, c *fakedoris.Cluster) { c.InitInternalSchema() },
			want:  "ScaleInUnsafe", msg: []string{"2 backends would remain on tag default", "of __internal_schema.", "has 3 replicas there"}},
		{name: "an MTMV at 3 replicas on 3 backends", layout: fakedoris.Layout21, locations: make([]string, 3), leaving: 2,
			setup: func(t *testing.T, c *fakedoris.Cluster) {
				mustAdd(t, c.AddTableWith("sales", "mv_daily", fakedoris.TableOptions{Type: "MATERIALIZED_VIEW",
					Partitions: []fakedoris.Partition{{ReplicationNum: 3, Buckets: 4}}}))
			},
			want: "ScaleInUnsafe", msg: []string{"partition mv_daily of sales.mv_daily has 3 replicas there", "an async materialized view"}},
		{name: "a group_a backend leaves a group that needs 2", layout: fakedoris.Layout21,
			locations: []string{"", "", "", "group_a", "group_a"}, leaving: 4, setup: groupTable,
			want: "ScaleInUnsafe", msg: []string{"1 backends would remain on tag group_a", "partition p1 of sales.regional has 2 replicas there",
				"tag.location.default: 1, tag.location.group_a: 2"}},
		{name: "a default backend leaves beside the group", layout: fakedoris.Layout21,
			locations: []string{"", "", "group_a", "group_a", ""}, leaving: 4, setup: groupTable, want: "DecommissionDone", sent: 1},
		{name: "the FE refuses the DECOMMISSION (#32748)", layout: fakedoris.Layout3, locations: make([]string, 3), leaving: 2,
			setup: func(t *testing.T, c *fakedoris.Cluster) {
				// A table at 3 replicas appears between our check and the statement.
				c.BeforeStatement("DECOMMISSION", func() {
					mustAdd(t, c.AddTable("sales", "late", fakedoris.Partition{Name: "p1", ReplicationNum: 3, Buckets: 2}))
				})
			},
			want: "ScaleInUnsafe", sent: 1, msg: []string{"cannot decommission: the FE refused", "After decommission, partition p1 of table " +
				"sales.late 's replication allocation { tag.location.default: 3 } > available backend num 2 on tag {\"location\" : \"default\"}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(tt.layout)
			c.AddFrontend(fakedoris.Frontend{Host: feMaster, EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
			for i, loc := range tt.locations {
				c.AddBackend(fakedoris.Backend{Host: podBE(i), Alive: true, Location: loc})
			}
			mustAdd(t, c.AddTable("sales", "orders", fakedoris.Partition{Name: "p2026", ReplicationNum: 1, Buckets: 12}))
			c.SetDecommissionRate(500)
			c.SetAlterInterval(2 * time.Second)
			fe := fakedoris.ServeT(t, c, feMaster)
			tt.setup(t, c)
			ev := &events{}
			n := node(t, cluster.BE, podBE(tt.leaving), fe, cluster.Placement{StatefulSet: "doris-be", Ordinal: tt.leaving, Replicas: tt.leaving}, nil, ev)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			n.BeforeStop(ctx)
			if !ev.has(tt.want) {
				t.Fatalf("events %q, want %s; %q", ev.reasons, tt.want, ev.msgs)
			}
			all := strings.Join(ev.msgs, "\n")
			for _, m := range tt.msg {
				if !strings.Contains(all, m) {
					t.Errorf("events lack %q:\n%s", m, all)
				}
			}
			if got := len(statements(c, "DECOMMISSION")); got != tt.sent {
				t.Errorf("%d DECOMMISSION sent, want %d: %q", got, tt.sent, c.Statements())
			}
			if n := strings.Count(strings.Join(ev.reasons, " "), "ScaleInUnsafe"); n > 1 {
				t.Errorf("%d ScaleInUnsafe events, want one", n)
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Fatalf("%d tablets lost", lost)
			}
		})
	}
}

// groupTable is a table with 2 replicas on group_a and 1 on default.
func groupTable(t *testing.T, c *fakedoris.Cluster) {
	t.Helper()
	mustAdd(t, c.AddTable("sales", "regional", fakedoris.Partition{Name: "p1", Buckets: 6,
		Allocation: map[string]int{"group_a": 2, "default": 1}}))
}

func mustAdd(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}

// ReplicaShortfall: only the tags that lose backends, the partition short
// by most, every one counted.
func TestReplicaShortfall(t *testing.T) {
	parts := []cluster.Partition{
		{DB: "sales", Table: "orders", Name: "p1", Type: "OLAP", ReplicationNum: 3, Allocation: map[string]int{"default": 3}, Alloc: "tag.location.default: 3"},
		{DB: "sales", Table: "regional", Name: "p1", Type: "OLAP", ReplicationNum: 3, Allocation: map[string]int{"a": 2, "default": 1},
			Alloc: "tag.location.a: 2, tag.location.default: 1"},
	}
	tests := []struct {
		name      string
		remaining map[string]int
		leaving   []string
		want      string
	}{
		{"fits", map[string]int{"default": 3, "a": 2}, []string{"default", "a"}, ""},
		{"tag a short, but not leaving", map[string]int{"default": 3, "a": 1}, []string{"default"}, ""},
		{"tag a short", map[string]int{"default": 3, "a": 1}, []string{"a"},
			"1 backends would remain on tag a, and partition p1 of sales.regional has 2 replicas there (replication allocation { tag.location.a: 2, tag.location.default: 1 }); the decommission could never finish"},
		{"both short, the worst named", map[string]int{"default": 1, "a": 1}, []string{"a", "default"},
			"1 backends would remain on tag default, and partition p1 of sales.orders has 3 replicas there (replication allocation { tag.location.default: 3 }), and 1 more partitions are short; the decommission could never finish"},
		{"no backend left on a tag", map[string]int{"default": 3}, []string{"a"}, "0 backends would remain on tag a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cluster.ReplicaShortfall(parts, tt.remaining, tt.leaving)
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
