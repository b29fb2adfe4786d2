package bootstrap_test

import (
	"net"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// An FE that is up but answers with an error, or accepts and cuts the
// connection, is a cluster that exists: FE 0 on a first start must never
// bootstrap a new one next to it (split brain); it fails after the master
// wait instead.
func TestNoSplitBrainWhileElecting(t *testing.T) {
	for _, tt := range []struct {
		name  string
		serve func(t *testing.T) string
	}{
		{"catalog not ready (1105)", func(t *testing.T) string {
			c, addr := fakeCluster(t, false)
			c.SetCatalogNotReady(true)
			return addr
		}},
		{"connection cut before the handshake", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			return ln.Addr().String()
		}},
		{"result without IsMaster and Host", func(t *testing.T) string {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			c.SetFrontendColumns([]string{"Name", "Role"})
			return fakedoris.ServeT(t, c, master)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startFE(t, deadAddr(t)+","+tt.serve(t), master, false, nil,
				"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT=100ms", "DORIS_ENTRYPOINT_MASTER_WAIT=800ms")
			if code := r.p.Wait(t, wait); code != 1 {
				t.Fatalf("exit %d, want 1; log:\n%s", code, r.p.Log())
			}
			if r.ev.Has("report ") {
				t.Fatal("start_fe.sh was started: a second cluster next to one that answers")
			}
			if !strings.Contains(r.p.Log(), "not starting a second cluster") || strings.Contains(r.p.Log(), "bootstraps a new cluster") {
				t.Fatalf("no clear message; log:\n%s", r.p.Log())
			}
		})
	}
}
