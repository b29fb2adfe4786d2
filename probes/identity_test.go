package probes_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/probes"
	"github.com/apache/doris-entrypoint/supervisor/modes"
)

// An exec probe takes the answer of its own container's supervisor only:
// another supervisor on the port (two hostNetwork pods on one node, the
// second could not bind) or anything else there is refused, with the
// reason, instead of passing for it (issue 13 item 12).
func TestExecRefusesStranger(t *testing.T) {
	f := newFixture(t, time.Hour)
	f.srv.SetState(modes.State{Component: "fe", Mode: "normal", Phase: modes.PhaseRunning, ChildPID: 5})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.srv.Serve(ctx, ln)
	stranger := func(hdr map[string]string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range hdr {
				w.Header().Set(k, v)
			}
			w.Write([]byte("started\n"))
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	for _, tc := range []struct {
		name, addr string
		pass       bool
		want       string
	}{
		{"own supervisor", ln.Addr().String(), true, "started"},
		{"another container's supervisor", stranger(map[string]string{probes.HeaderComponent: "fe", probes.HeaderMountNS: "4026531840"}),
			false, "refused: the fe supervisor of another container answered"},
		{"not a supervisor", stranger(nil), false, "refused: something other than this container's supervisor answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			passed, err := probes.Exec(tc.addr, probes.PathStartup, 0, &out)
			if err != nil || passed != tc.pass || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("Exec = %v, %v, %q; want %v and %q", passed, err, out.String(), tc.pass, tc.want)
			}
			if !tc.pass && strings.Contains(out.String(), "started") {
				t.Errorf("the stranger's reason was passed on: %q", out.String())
			}
		})
	}
}
