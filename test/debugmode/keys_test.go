package debugmode_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// Each of the three run-mode keys, in any case, puts the FE into debug mode
// (at its start: a crash-looping pod; or while it runs), and status names
// the key to remove to leave; removing it leaves.
func TestEveryRunmodeKey(t *testing.T) {
	tests := []struct {
		key     string
		atStart bool
	}{
		{podinfo.KeyRunmodeApacheCom, true}, // operator 25.6.0–25.7.0, the Doris website
		{podinfo.KeyRunmodeApacheCom, false},
		{"apache.com.doris/RunMode", true},
		{podinfo.KeyRunmodeApache, false},
		{podinfo.KeyRunmode, false},
	}
	for _, tt := range tests {
		name := tt.key + map[bool]string{true: " at start", false: " at runtime"}[tt.atStart]
		t.Run(name, func(t *testing.T) {
			ann := map[string]string{tt.key: "debug", "note": "x"}
			initial := map[string]string{"note": "x"}
			if tt.atStart {
				initial = ann
			}
			s := newSandbox(t, initial)
			p := s.start(t)
			if !tt.atStart {
				s.ev.Wait(t, s.listening(s.query), wait)
				p.WaitLog(t, "child started", wait)
				s.annotate(t, ann)
			}
			s.assertDebug(t, p)
			out, err := s.status()
			if want := "to leave: kubectl annotate pod <this pod> " + tt.key + "- (the annotation that set debug mode)"; err != nil || !strings.Contains(out, want) {
				t.Errorf("status does not name the key (want %q): %v\n%s", want, err, out)
			}
			// The readiness reason names the key that set the mode too, not
			// the operator's first one.
			if want := "not ready: debug mode (annotation " + tt.key + "=debug)"; !strings.Contains(out, want) {
				t.Errorf("the readiness reason does not name the key (want %q):\n%s", want, out)
			}
			s.annotate(t, map[string]string{"note": "x"})
			starts := 1 // the FE's starts so far, this one included
			if !tt.atStart {
				starts = 2
			}
			s.ev.WaitN(t, s.listening(s.query), starts, wait)
			s.assertRestored(t)
			p.Signal(t, syscall.SIGTERM)
			if code := p.Wait(t, wait); code != 0 {
				t.Fatalf("exit %d; log:\n%s", code, p.Log())
			}
		})
	}
}
