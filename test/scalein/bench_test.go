package scalein_test

import (
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// BenchmarkScaleInOverhead is our own part of a BE scale-in, as PID 1 with
// the fake API and FE: from the preStop hook's start to the DECOMMISSION
// sent (the StatefulSet read, SHOW BACKENDS, the replica check), and from
// the FE having moved the last tablet to PID 1's exit (noticing it in SHOW
// BACKENDS, the BE's stop). The migration itself is the FE's: here it
// moves 10 tablets at 10,000 a second. Target: ≤ 1 s each (the bash
// scripts: never).
//
//	go test -run - -bench ScaleInOverhead -benchtime 5x ./test/scalein
func BenchmarkScaleInOverhead(b *testing.B) {
	var toDecommission, toExit time.Duration
	for i := 0; i < b.N; i++ {
		hbs, roles := make([]int, 3), []string{"mix", "mix", "mix"}
		for j := range hbs {
			hbs[j] = harness.FreePort(b, 0)
		}
		c, fe := fakeCluster(b, 3, 1, hbs, roles)
		c.SetDecommissionRate(10000)
		pd := startBE(b, fe, 2, hbs[2], "mix", 2, true)
		tablets := c.TabletsOn(beHost(2))
		start := time.Now()
		pd.prestop(b)
		end := time.Now()
		sent, ok := c.StatementAt("DECOMMISSION BACKEND")
		if !ok || listed(c, beHost(2)) {
			b.Fatalf("no decommission, or still listed; log:\n%s", pd.p.Log())
		}
		toDecommission += sent.Sub(start)
		toExit += end.Sub(sent.Add(time.Duration(tablets) * time.Second / 10000))
	}
	b.ReportMetric(float64(toDecommission.Milliseconds())/float64(b.N), "ms-prestop-to-decommission")
	b.ReportMetric(float64(toExit.Milliseconds())/float64(b.N), "ms-drained-to-exit")
}
