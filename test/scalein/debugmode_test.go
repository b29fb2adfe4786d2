package scalein_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// A pod scaled in while in debug mode: its component is not running, so
// nothing ran before the stop. A CN still leaves the cluster (dropped after
// the stop, the FE having marked it dead meanwhile); a mix BE cannot
// decommission without its process: it is never dropped, and a Warning
// ScaleInUnsafe says why.
func TestScaleInInDebugMode(t *testing.T) {
	tests := []struct {
		name      string
		role      string
		wantEvent string
		wantLog   string
		gone      bool
	}{
		{name: "cn dropped", role: "computation", wantEvent: "ComputeNodeDropped", wantLog: "scale-in: compute node dropped", gone: true},
		{name: "be kept", role: "mix", wantEvent: "ScaleInUnsafe", wantLog: "scale-in unsafe: not decommissioning; stopping as before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hbs, roles := make([]int, 3), []string{"mix", "mix", tt.role}
			for i := range hbs {
				hbs[i] = harness.FreePort(t, 0)
			}
			c, fe := fakeCluster(t, 3, 1, hbs, roles)
			pd := startBE(t, fe, 2, hbs[2], tt.role, 3, true)
			debug := map[string]string{"selectdb.com.doris/runmode": "debug"}
			if err := podinfotest.Write(filepath.Join(pd.root, "podinfo"), debug, nil); err != nil {
				t.Fatal(err)
			}
			pd.api.Annotate(debug)
			pd.p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
			// The FE marks the stopped backend dead: SHOW BACKENDS shows its
			// NodeRole as "" from now on (BackendsProcDir.java).
			c.SetAlive(beHost(2), false)
			pd.api.SetStatefulSet("doris-be", 2, false) // the scale-in
			pd.prestop(t)
			if code := pd.p.Wait(t, wait); code != 0 {
				t.Errorf("exit %d, want 0 (a stop in debug mode)", code)
			}
			if got := pd.api.EventReasons(); !slices.Contains(got, tt.wantEvent) {
				t.Errorf("Events %q lack %s", got, tt.wantEvent)
			}
			if len(pd.p.Find(tt.wantLog)) == 0 {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, pd.p.Log())
			}
			if g := !listedAfterRound(c, beHost(2)); g != tt.gone {
				t.Errorf("gone from SHOW BACKENDS: %v, want %v", g, tt.gone)
			}
			for _, s := range c.Statements() {
				if tt.role == "mix" && (strings.Contains(s, "DROP") || strings.Contains(s, "DECOMMISSION")) {
					t.Errorf("a BE in debug mode: %s", s)
				}
			}
			if lost := c.LostTablets(); lost != 0 {
				t.Errorf("%d tablets lost", lost)
			}
		})
	}
}
