package bootstrap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// node is one doris-entrypoint (PID 1 of its own PID namespace) with its own
// sandbox DORIS_ROOT, whose start script execs a fake FE/BE (test/helper).
type node struct {
	comp, fqdn, root string
	ports            map[string]int
	p                *harness.Proc
}

func freePorts(t *testing.T, keys ...string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, k := range keys {
		m[k] = harness.FreePort(t, 0)
	}
	return m
}

func newNode(t *testing.T, comp, fqdn, conf string) *node {
	t.Helper()
	n := &node{comp: comp, fqdn: fqdn, root: t.TempDir()}
	if comp == "fe" {
		n.ports = freePorts(t, "query_port", "http_port", "edit_log_port")
	} else {
		n.ports = freePorts(t, "heartbeat_service_port", "webserver_port")
	}
	for _, d := range []string{comp + "/bin", comp + "/conf"} {
		if err := os.MkdirAll(filepath.Join(n.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range n.ports {
		conf += fmt.Sprintf("%s = %d\n", k, v)
	}
	conf += "enable_fqdn_mode = true\n"
	if err := os.WriteFile(filepath.Join(n.root, comp, "conf", comp+".conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s fake-%s \"$DORIS_ROOT/%s/conf/%s.conf\" \"$@\"\n", helper, comp, comp, comp)
	if err := os.WriteFile(filepath.Join(n.root, comp, "bin", "start_"+comp+".sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) start(t *testing.T, feAddrs string, env ...string) {
	t.Helper()
	n.p = harness.Start(t, harness.Options{
		Bin: entrypoint, Args: []string{n.comp, feAddrs}, PID1: true,
		Env: append([]string{"DORIS_ROOT=" + n.root, "POD_FQDN=" + n.fqdn, "DORIS_ENTRYPOINT_PODINFO_DIR=" + filepath.Join(n.root, "podinfo"),
			"CONFIGMAP_MOUNT_PATH=" + filepath.Join(n.root, "none")}, env...),
	})
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.p.Signal(t, syscall.SIGTERM)
	if code := n.p.Wait(t, wait); code != 0 && code != 143 {
		t.Fatalf("%s exited %d; log:\n%s", n.fqdn, code, n.p.Log())
	}
}

// untilAnswered calls ask until it returns no error, for up to wait.
func untilAnswered(t *testing.T, what string, ask func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		err := ask(ctx)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: no answer within %s: %v", what, wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A cluster from nothing: 3 FE followers (ELECT_NUMBER=3) + 1 observer +
// 3 BE + 1 CN, each doris-entrypoint as PID 1 of its own namespace with its
// own DORIS_ROOT; FE-0 bootstraps it, everyone else joins; then every node
// restarts with its metadata / registration in place.
func TestSimulatedCluster(t *testing.T) {
	ev := harness.NewEvents(t)
	fakeDir := t.TempDir()
	env := []string{ev.Env(), "FAKE_DIR=" + fakeDir, "ELECT_NUMBER=3", "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT=1s"}
	var fes, bes []*node
	for i := 0; i < 4; i++ {
		fes = append(fes, newNode(t, "fe", fmt.Sprintf("fe-%d.fe-internal.test", i), ""))
	}
	for i := 0; i < 4; i++ {
		conf := ""
		name := fmt.Sprintf("be-%d.be-internal.test", i)
		if i == 3 {
			conf, name = "be_node_role = computation\n", "cn-0.cn-internal.test"
		}
		bes = append(bes, newNode(t, "be", name, conf))
	}
	var addrs []string
	for _, fe := range fes {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(fe.ports["query_port"]))
	}
	feAddrs := strings.Join(addrs, ",")

	// FE-0: nobody answers, so after the wait it bootstraps the cluster.
	fes[0].start(t, feAddrs, env...)
	ev.Wait(t, "fake-fe "+fes[0].fqdn+" --console", wait)
	for _, fe := range fes[1:] {
		fe.start(t, feAddrs, env...)
	}
	for _, fe := range fes[1:] {
		ev.Wait(t, "fake-fe "+fe.fqdn+" --console --helper "+fes[0].fqdn+":"+strconv.Itoa(fes[0].ports["edit_log_port"]), wait)
	}
	for _, be := range bes {
		be.start(t, feAddrs, env...)
	}
	for _, be := range bes {
		ev.Wait(t, "fake-be "+be.fqdn, wait)
	}

	// Ask a follower: it forwards to the master, so it shows the cluster
	// once its replay is done (its query port opens only then, as Doris').
	var cl cluster.Client
	var got []cluster.Frontend
	untilAnswered(t, "a follower's SHOW FRONTENDS", func(ctx context.Context) (err error) {
		got, err = cl.ShowFrontends(ctx, addrs[2])
		return err
	})
	roles := map[string]string{}
	for _, f := range got {
		roles[f.Host] = f.Role
	}
	for i, fe := range fes {
		want := "FOLLOWER"
		if i == 3 {
			want = "OBSERVER"
		}
		if roles[fe.fqdn] != want {
			t.Errorf("%s: role %q, want %s; frontends %+v", fe.fqdn, roles[fe.fqdn], want, got)
		}
	}
	var backends []cluster.Backend
	untilAnswered(t, "a follower's SHOW BACKENDS", func(ctx context.Context) (err error) {
		backends, err = cl.ShowBackends(ctx, addrs[1])
		return err
	})
	if len(backends) != 4 {
		t.Fatalf("backends %+v, want 4", backends)
	}

	// Restart everyone (BEs first, as the operator upgrades): FEs now have
	// metadata and start without a helper, BEs are registered already.
	for _, be := range bes {
		be.stop(t)
	}
	for i := len(fes) - 1; i >= 1; i-- {
		fes[i].stop(t)
	}
	fes[0].stop(t)
	os.Remove(filepath.Join(fakeDir, "master"))
	for _, fe := range fes {
		fe.start(t, feAddrs, env...)
		ev.WaitN(t, "fake-fe "+fe.fqdn+" --console", 2, wait)
		if n := len(fe.p.Find("metadata present: starting as a member")); n != 1 {
			t.Fatalf("%s restart: log:\n%s", fe.fqdn, fe.p.Log())
		}
	}
	for _, be := range bes {
		be.start(t, feAddrs, env...)
		ev.WaitN(t, "fake-be "+be.fqdn, 2, wait)
		if n := len(be.p.Find("backend registered")); n != 1 {
			t.Fatalf("%s restart: log:\n%s", be.fqdn, be.p.Log())
		}
	}
	for _, n := range append(bes, fes...) {
		n.stop(t)
	}
}
