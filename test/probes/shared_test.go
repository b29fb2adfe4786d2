package probes_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// Two supervisors in one network namespace (an FE and a BE pod with
// hostNetwork on one node) configured with the same probe port: the BE's
// cannot bind it, and the FE's answers there. The BE's exec probes must
// not pass on the FE's answers — a BE in debug mode is not ready, whatever
// the FE says — but fail, saying why; the FE's own probes still pass
// (issue 13 item 12).
func TestSharedProbePortRefused(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t, 0))
	fe := newNode(t, "fe")
	fe.extraEnv = []string{"DORIS_ENTRYPOINT_PROBE_ADDR=" + addr}
	fe.start(t)
	fe.waitProbe(t, "/readyz", 200)

	be := newNode(t, "be")
	be.extraEnv = []string{"DORIS_ENTRYPOINT_PROBE_ADDR=" + addr}
	be.annotate(t, map[string]string{podinfo.KeyRunmode: "debug"})
	be.p = harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{be.comp, be.feAddr}, PID1: true, Env: be.env()})
	be.p.WaitLog(t, "probe endpoint not started: the Doris ports still serve the operator's probes", wait)
	be.p.WaitLog(t, "debug mode: ports moved, liveness port held", wait)
	be.endpoint = addr

	for _, kind := range []string{"live", "ready", "startup"} {
		if code, out, _ := fe.execProbe(t, kind); code != 0 || strings.Contains(out, "refused") {
			t.Errorf("FE probe %s: exit %d %q, want 0", kind, code, out)
		}
		code, out, _ := be.execProbe(t, kind)
		if code != 1 || !strings.Contains(out, "refused: the fe supervisor of another container answered") {
			t.Errorf("BE probe %s answered by the FE's supervisor: exit %d %q, want 1 and a refusal", kind, code, out)
		}
	}
}
