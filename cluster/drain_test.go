package cluster_test

import (
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
)

// The drain's conclusions (drain.go): from the master's reads only, over a
// series, and never "done" for a row that vanished with tablets.
func TestDrainConclusions(t *testing.T) {
	const host = "doris-be-2.doris-be-internal"
	row := func(tablets int, decommissioned bool) []cluster.Backend {
		return []cluster.Backend{{Host: host, HeartbeatPort: 9050, TabletNum: tablets, Decommissioned: decommissioned}}
	}
	type read struct {
		master bool
		rows   []cluster.Backend // nil: no row for it
		after  time.Duration     // since the previous read
	}
	step := cluster.ConfirmSpan / (cluster.ConfirmReads - 1)
	series := func(master bool, rows []cluster.Backend, n int) []read {
		var out []read
		for i := 0; i < n; i++ {
			out = append(out, read{master, rows, step})
		}
		return out
	}
	cat := func(parts ...[]read) []read {
		var out []read
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		reads []read
		want  string
	}{
		{"emptied, then dropped by the FE", cat(series(true, row(3, true), 1), series(true, row(0, true), 1), series(true, nil, cluster.ConfirmReads)), cluster.Dropped},
		{"emptied and kept", cat(series(true, row(0, true), cluster.ConfirmReads)), cluster.Kept},
		{"one answer without the row", cat(series(true, row(0, true), 1), series(true, nil, 1)), cluster.Draining},
		{"absent too briefly", cat(series(true, row(0, true), 1), []read{{true, nil, step}, {true, nil, time.Millisecond}, {true, nil, time.Millisecond}}), cluster.Draining},
		{"a follower says it is gone", cat(series(true, row(0, true), 1), series(false, nil, 2*cluster.ConfirmReads)), cluster.Draining},
		{"gone with tablets on it", cat(series(true, row(5, true), 1), series(true, nil, cluster.ConfirmReads)), cluster.Vanished},
		{"the row comes back: starts over", cat(series(true, row(0, true), 1), series(true, nil, cluster.ConfirmReads-1), series(true, row(2, true), 1), series(true, nil, cluster.ConfirmReads-1)), cluster.Draining},
		{"cancelled", cat(series(true, row(4, false), cluster.ConfirmReads)), cluster.Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := cluster.NewDrain(cluster.Backend{Host: host, HeartbeatPort: 9050, TabletNum: 10})
			now := time.Unix(1e9, 0)
			for _, r := range tt.reads {
				now = now.Add(r.after)
				d.Observe(cluster.BackendsView{Master: r.master, Backends: r.rows}, now)
			}
			if got := d.Nodes[0].Outcome; got != tt.want {
				t.Fatalf("outcome %q, want %q", got, tt.want)
			}
			if d.Done() != (tt.want == cluster.Dropped || tt.want == cluster.Kept) {
				t.Fatalf("Done %v for %q", d.Done(), tt.want)
			}
		})
	}
}
