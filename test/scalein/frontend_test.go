package scalein_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/fakekube"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

func feName(i int) string {
	return fmt.Sprintf("doris-fe-%d.doris-fe-internal.doris.svc.cluster.local", i)
}

// An FE pod removed by a scale-in, as PID 1: it joins on its first start
// (follower below ELECT_NUMBER, else observer), and after its preStop an
// observer is dropped, a follower only when a safe quorum remains.
func TestFrontendScaleIn(t *testing.T) {
	tests := []struct {
		name      string
		followers int // the cluster's followers before this FE joins (doris-fe-0 the master)
		self      int
		replicas  int32
		want      string
		dropped   bool
	}{
		{name: "observer dropped", followers: 3, self: 3, replicas: 3, want: "FrontendDropped", dropped: true},
		{name: "follower refused", followers: 2, self: 2, replicas: 2, want: "FollowerScaleInUnsafe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakedoris.NewCluster(fakedoris.Layout21)
			for i := 0; i < tt.followers; i++ {
				c.AddFrontend(fakedoris.Frontend{Host: feName(i), EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER", IsMaster: i == 0, Alive: true, Join: true})
			}
			fe := fakedoris.ServeT(t, c, feName(0))
			root, ev := t.TempDir(), harness.NewEvents(t)
			for _, d := range []string{"fe/bin", "fe/conf", "podinfo"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			conf := fmt.Sprintf("edit_log_port = 9010\nquery_port = %d\nhttp_port = %d\n", harness.FreePort(t, 0), harness.FreePort(t, 0))
			if err := os.WriteFile(filepath.Join(root, "fe/conf/fe.conf"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			script := fmt.Sprintf("#!/bin/sh\nexec %s trap-term 0\n", helper)
			if err := os.WriteFile(filepath.Join(root, "fe/bin/start_fe.sh"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("doris-fe-%d", tt.self)
			api := &fakekube.Server{Pod: fakekube.NewPod("doris", name)}
			api.SetStatefulSet("doris-fe", tt.replicas, false)
			kenv, sa := fakekube.StartTLS(t, api)
			p := harness.Start(t, harness.Options{Bin: entrypoint, Args: []string{"fe", fe}, PID1: true, ServiceAccount: sa,
				Env: append(kenv, ev.Env(), "DORIS_ROOT="+root, "POD_FQDN="+feName(tt.self), "POD_NAME="+name, "POD_NAMESPACE=doris",
					"DORIS_ENTRYPOINT_KUBE=on", "ELECT_NUMBER=3", "DORIS_ENTRYPOINT_PODINFO_DIR="+filepath.Join(root, "podinfo"),
					"CONFIGMAP_MOUNT_PATH="+filepath.Join(root, "none"), "DORIS_ENTRYPOINT_STOP_TIMEOUT=20s")})
			ev.Wait(t, "ready trap", wait)
			pd := &pod{root: root, p: p}
			pd.prestop(t)
			if got := api.EventReasons(); !slices.Contains(got, tt.want) {
				t.Fatalf("events %q lack %s; log:\n%s", got, tt.want, p.Log())
			}
			gone := true
			for _, f := range c.Frontends() {
				gone = gone && f.Host != feName(tt.self)
			}
			if gone != tt.dropped {
				t.Fatalf("dropped %v, want %v; frontends %+v", gone, tt.dropped, c.Frontends())
			}
		})
	}
}
