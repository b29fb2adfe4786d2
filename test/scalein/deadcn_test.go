package scalein_test

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// A CN whose heartbeat service goes first when it stops, and which the
// master marks dead before it exits (SHOW BACKENDS then shows NodeRole ""),
// still drops itself: its role is its be.conf's.
func TestDeadComputeNodeDropsItself(t *testing.T) {
	hbs, roles := []int{harness.FreePort(t, 0), harness.FreePort(t, 0)}, []string{"mix", "computation"}
	c, fe := fakeCluster(t, 2, 1, hbs, roles)
	pd := startBE(t, fe, 1, hbs[1], "computation", 1, true, "FAKE_STOP_HEARTBEAT_FIRST=1", "FAKE_STOP_DELAY=2s")
	// The master: a backend whose heartbeat port refuses is dead.
	go func() {
		for {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hbs[1])), time.Second)
			if err != nil {
				c.SetAlive(beHost(1), false)
				return
			}
			conn.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	pd.prestop(t)
	if !slices.Contains(pd.api.EventReasons(), "ComputeNodeDropped") || listed(c, beHost(1)) {
		t.Fatalf("events %q, listed %v; log:\n%s", pd.api.EventReasons(), listed(c, beHost(1)), pd.p.Log())
	}
}
