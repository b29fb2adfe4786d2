package scalein_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/fakekube"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// scaleInCLI starts `doris-entrypoint scale-in ARGS` as kubectl exec would
// in a pod that has srv as its API (the pods' ConfigMap holds the record).
func scaleInCLI(t *testing.T, srv *fakekube.Server, fe string, args ...string) *harness.Proc {
	t.Helper()
	kenv, sa := fakekube.StartTLS(t, srv)
	env := append([]string{"ENV_FE_ADDR=" + fe, "DORIS_ENTRYPOINT_KUBE=on", "POD_NAME=" + srv.Pod.Name, "POD_NAMESPACE=doris"}, kenv...)
	return harness.Start(t, harness.Options{Bin: entrypoint, Args: append([]string{"scale-in"}, args...), Env: env, PID1: true,
		ServiceAccount: sa})
}

func scaleInRecorded(srv *fakekube.Server) bool {
	m, _ := srv.ConfigMapData(kubeapi.UpgradeConfigMap)
	_, ok := m["scalein-"+fakedoris.ClusterID]
	return ok
}

// While `scale-in be --to 2` waits, the pod of doris-be-2 restarts (its
// ordinal is still below the StatefulSet's 3 replicas): the record keeps its
// decommission, the command ends done, and the record is gone.
func TestScaleInCommandSurvivesARestart(t *testing.T) {
	hbs, roles := mixBackends(t, 3)
	c, fe := fakeCluster(t, 3, 1, hbs, roles)
	c.SetDecommissionRate(0)
	srv := &fakekube.Server{Pod: fakekube.NewPod("doris", "doris-be-2")}
	cli := scaleInCLI(t, srv, fe, "be", "--to", "2", "--timeout", "2m")
	harness.WaitFor(t, "the decommission sent", wait, func() bool { return strings.Contains(cli.Log(), "decommission sent: "+beHost(2)) })
	if !scaleInRecorded(srv) {
		t.Fatalf("no scale-in record:\n%s", cli.Log())
	}
	pd := startBEOn(t, srv, fe, 2, hbs[2], "mix", 3)
	pd.p.WaitLog(t, "decommission kept: a scale-in by hand is under way", wait)
	if len(statementsWith(c, "CANCEL DECOMMISSION")) != 0 {
		t.Fatalf("the restart cancelled the decommission: %q", c.Statements())
	}
	c.SetDecommissionRate(200)
	if code := cli.Wait(t, wait); code != 0 {
		t.Fatalf("scale-in exited %d:\n%s", code, cli.Log())
	}
	if !strings.Contains(cli.Log(), "kubectl patch doriscluster doris") || scaleInRecorded(srv) || c.LostTablets() != 0 {
		t.Fatalf("recorded %v, lost %d:\n%s", scaleInRecorded(srv), c.LostTablets(), cli.Log())
	}
}

// Every wait of the command ends, non-zero, saying what it leaves: a
// decommission cancelled under it, or its timeout; --cancel undoes it.
func TestScaleInCommandStops(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		during func(t *testing.T, fe string, hb int)
		want   []string
		kept   bool // the record stays
	}{
		{name: "a decommission cancelled under it", args: []string{"--timeout", "2m"},
			during: func(t *testing.T, fe string, hb int) {
				if err := (&cluster.Client{}).CancelDecommission(context.Background(), fe, beHost(2), hb); err != nil {
					t.Error(err)
				}
			},
			want: []string{"the decommission of " + beHost(2), "was cancelled", "nothing was dropped"}},
		{name: "the timeout", args: []string{"--timeout", "3s"},
			want: []string{"stopped waiting after 3s (--timeout)", "tablets left on 1 backends", "the decommission goes on in the FE",
				"scale-in be --to 2 --cancel", "do not shrink the cluster yet"}, kept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hbs, roles := mixBackends(t, 3)
			c, fe := fakeCluster(t, 3, 1, hbs, roles)
			c.SetDecommissionRate(0)
			srv := &fakekube.Server{Pod: fakekube.NewPod("doris", "doris-be-0")}
			cli := scaleInCLI(t, srv, fe, append([]string{"be", "--to", "2"}, tt.args...)...)
			harness.WaitFor(t, "the decommission sent", wait, func() bool { return strings.Contains(cli.Log(), "decommission sent:") })
			if tt.during != nil {
				tt.during(t, fe, hbs[2])
			}
			if code := cli.Wait(t, wait); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, cli.Log())
			}
			for _, w := range tt.want {
				if !strings.Contains(cli.Log(), w) {
					t.Errorf("output lacks %q:\n%s", w, cli.Log())
				}
			}
			if got := scaleInRecorded(srv); got != tt.kept {
				t.Fatalf("record kept %v, want %v", got, tt.kept)
			}
			if !tt.kept {
				return
			}
			undo := scaleInCLI(t, srv, fe, "be", "--to", "2", "--cancel")
			if code := undo.Wait(t, wait); code != 0 || !strings.Contains(undo.Log(), "decommission cancelled: "+beHost(2)) {
				t.Fatalf("--cancel: exit %d:\n%s", code, undo.Log())
			}
			for _, be := range c.Backends() {
				if be.Decommissioned {
					t.Fatalf("%s still decommissioned", be.Host)
				}
			}
			if scaleInRecorded(srv) {
				t.Fatal("--cancel left the record")
			}
		})
	}
}

func statementsWith(c *fakedoris.Cluster, s string) []string {
	var out []string
	for _, q := range c.Statements() {
		if strings.Contains(q, s) {
			out = append(out, q)
		}
	}
	return out
}
