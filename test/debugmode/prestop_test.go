package debugmode_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// prestopInNamespace runs fe_prestop.sh as a kubelet exec hook runs it:
// inside the container's PID and mount namespaces (here PID 1's), so that
// PID 1's exit kills it if it is still there. It returns the hook's exit
// code (128+signal when killed) and output.
func prestopInNamespace(t *testing.T, p *harness.Proc, env ...string) (int, string) {
	t.Helper()
	link := filepath.Join(t.TempDir(), "fe_prestop.sh")
	if err := os.Symlink(entrypoint, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--target", strconv.Itoa(p.PID()), "--pid", "--mount", "--", link)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), string(out)
		}
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("nsenter: %v\n%s", err, out)
	return -1, ""
}

// The preStop hook inside PID 1's namespace exits 0 once the stop is
// complete, whatever PID 1's exit code: PID 1 says so on the control socket
// and waits for the hook to leave before it exits (before, the kernel
// killed the hook with PID 1's exit: rc 137, a kubelet's Warning
// FailedPreStopHook on every graceful delete). When the hook returns the
// child is gone and the conf restored.
func TestPrestopInNamespace(t *testing.T) {
	tests := []struct {
		name   string
		ann    map[string]string
		script string // start_fe.sh instead of the fake FE; "" keeps it
		code   int    // PID 1's exit code
	}{
		{"normal mode", nil, "", 0},
		{"debug mode", debugAnn, "", 0},
		// The child ignores SIGTERM: SIGKILLed at the stop timeout.
		{"stop timeout", nil, "#!/bin/sh\ntrap '' TERM\nexec sleep 3600\n", 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t, tt.ann)
			if tt.script != "" {
				if err := os.WriteFile(filepath.Join(s.root, "fe/bin/start_fe.sh"), []byte(tt.script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			const stopTimeout = "DORIS_ENTRYPOINT_STOP_TIMEOUT=2s"
			p := harness.Start(t, harness.Options{
				Bin: entrypoint, Args: []string{s.comp, s.feAddrs}, PID1: true,
				Env: []string{s.ev.Env(), "DORIS_ROOT=" + s.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + s.podinfo, "POD_FQDN=" + s.comp + "-0.test",
					"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=" + strconv.Itoa(offset), stopTimeout},
			})
			switch {
			case tt.ann != nil:
				s.assertDebug(t, p)
			case tt.script != "":
				p.WaitLog(t, "child started", wait)
			default:
				s.ev.Wait(t, s.listening(s.query), wait)
			}
			code, out := prestopInNamespace(t, p, "DORIS_ROOT="+s.root, stopTimeout)
			// The stop was complete when the hook was told.
			left := harness.Descendants(p.PID())
			s.assertRestored(t)
			want := fmt.Sprintf("doris-entrypoint prestop: stopped (exit code %d)", tt.code)
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("prestop in the namespace: exit %d, want 0 and %q:\n%s\nsupervisor:\n%s", code, want, out, p.Log())
			}
			if len(left) > 0 {
				t.Errorf("processes %v still below PID 1 when the hook was told the stop is complete", left)
			}
			if c := p.Wait(t, wait); c != tt.code {
				t.Fatalf("PID 1 exit %d, want %d; log:\n%s", c, tt.code, p.Log())
			}
			if st := p.Find("stop requested"); len(st) != 1 || st[0]["reason"] != "prestop" {
				t.Fatalf("log:\n%s", p.Log())
			}
			if w := p.Find("exiting with a preStop hook still connected: it will be killed"); len(w) > 0 {
				t.Fatalf("PID 1 did not see the hook leave:\n%s", p.Log())
			}
		})
	}
}
