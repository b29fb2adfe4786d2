// Package images_test builds the FE and BE images on the local stand-in base
// (images/standin/build.sh: busybox-static and the fake Doris, no registry)
// and drives them with Debian's podman the way kubelet drives a pod's
// container: run on a network, probe through a published loopback port,
// stop with a grace period, update a mounted downward-API directory the way
// kubelet does, exec the operator's preStop, kill and restart.
package images_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

const wait = 60 * time.Second

var (
	tag       string // of the images built for this run
	repoRoot  string
	podmanEnv []string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if _, err := exec.LookPath("podman"); err != nil {
			fmt.Fprintln(os.Stderr, "images: podman is needed (apt-get install podman runc busybox-static; .ci/run does)")
			return 1
		}
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		repoRoot = filepath.Join(wd, "..", "..")
		podmanEnv = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(repoRoot, "images", "containers.conf"))
		dir, err := os.MkdirTemp("", "images-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin, err := harness.Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", harness.EntrypointLDFlags())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tag = fmt.Sprintf("t%d", os.Getpid())
		cmd := exec.Command("sh", filepath.Join(repoRoot, "images", "standin", "build.sh"), bin, tag)
		cmd.Env, cmd.Stdout, cmd.Stderr = podmanEnv, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "images: build.sh: %v\n", err)
			return 1
		}
		defer exec.Command("podman", "rmi", "-f", "localhost/doris-entrypoint-fe:"+tag, "localhost/doris-entrypoint-be:"+tag,
			"localhost/doris-entrypoint-broker:"+tag, "localhost/doris-standin:"+tag).Run()
		return m.Run()
	}())
}

// podman runs podman and returns its combined output.
func podman(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("podman", args...)
	cmd.Env = podmanEnv
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podman(t, args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// network is a podman network with fixed addresses, as a pod network
// without DNS: every container gets the others' names in /etc/hosts.
type network struct {
	name, prefix string
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	n := &network{name: fmt.Sprintf("doris-ep-%d-%d", os.Getpid(), rand.IntN(1e6)), prefix: fmt.Sprintf("10.%d.%d.", 90+rand.IntN(60), rand.IntN(250))}
	mustPodman(t, "network", "create", "--subnet", n.prefix+"0/24", n.name)
	t.Cleanup(func() { podman(t, "network", "rm", "-f", n.name) })
	return n
}

// hosts are the cluster's names: fe-0 at .10, be-0 at .20.
func (n *network) hosts() []string {
	return []string{"--add-host", "fe-0.fe-internal.test:" + n.prefix + "10", "--add-host", "be-0.be-internal.test:" + n.prefix + "20"}
}

// ctr is one container.
type ctr struct {
	name, comp, podinfo string
	probe               string // host:port of the published probe endpoint
	query               string // host:port of the published liveness port
}

// run starts comp as the operator would: its entrypoint link with the FE
// addresses, POD_FQDN, a downward-API directory, a grace period's worth of
// stop timeout.
func run(t *testing.T, n *network, comp string, ann map[string]string, extra ...string) *ctr {
	t.Helper()
	return runTag(t, n, comp, tag, ann, extra...)
}

// runTag is run with the images of another tag.
func runTag(t *testing.T, n *network, comp, tag string, ann map[string]string, extra ...string) *ctr {
	t.Helper()
	c := &ctr{name: fmt.Sprintf("%s-%s-%d", n.name, comp, rand.IntN(1e6)), comp: comp, podinfo: t.TempDir()}
	if err := podinfotest.Write(c.podinfo, ann, map[string]string{"app.kubernetes.io/component": comp}); err != nil {
		t.Fatal(err)
	}
	ip, fqdn, port := n.prefix+"10", "fe-0.fe-internal.test", "9030"
	if comp == "be" {
		ip, fqdn, port = n.prefix+"20", "be-0.be-internal.test", "9050"
	}
	args := []string{"run", "-d", "--name", c.name, "--network", n.name, "--ip", ip, "--hostname", strings.Split(fqdn, ".")[0],
		"-v", c.podinfo + ":/etc/podinfo:ro", "-p", "127.0.0.1::8099", "-p", "127.0.0.1::" + port,
		"-e", "POD_FQDN=" + fqdn, "-e", "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT=1s", "-e", "DORIS_ENTRYPOINT_PROBE_INTERVAL=500ms",
		"-e", "DORIS_ENTRYPOINT_STOP_TIMEOUT=20s", "-e", "FAKE_STOP_DELAY=500ms",
		"--entrypoint", "/opt/apache-doris/" + comp + "_entrypoint.sh"}
	args = append(args, n.hosts()...)
	args = append(args, extra...)
	args = append(args, "localhost/doris-entrypoint-"+comp+":"+tag, "fe-0.fe-internal.test")
	mustPodman(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := podman(t, "logs", c.name)
			t.Logf("%s logs:\n%s", c.name, out)
		}
		podman(t, "rm", "-f", "-t", "0", c.name)
	})
	c.probe = mustPodman(t, "port", c.name, "8099")
	c.query = mustPodman(t, "port", c.name, port)
	return c
}

func (c *ctr) get(path string) (int, string) {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + c.probe + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitProbe waits until path answers code.
func (c *ctr) waitProbe(t *testing.T, path string, code int) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, body := c.get(path)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %d %q, want %d", c.name, path, got, body, code)
		}
		if st, _ := podman(t, "inspect", "--format", "{{.State.Status}}", c.name); st == "exited" {
			t.Fatalf("%s exited while waiting for %s %d", c.name, path, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	harness.WaitFor(t, what, wait, cond)
}

func (c *ctr) logs(t *testing.T) string {
	t.Helper()
	out, _ := podman(t, "logs", c.name)
	return out
}

func (c *ctr) exitCode(t *testing.T) int {
	t.Helper()
	n, _ := strconv.Atoi(mustPodman(t, "inspect", "--format", "{{.State.ExitCode}}", c.name))
	return n
}

func (c *ctr) annotate(t *testing.T, ann map[string]string) {
	t.Helper()
	if err := podinfotest.Write(c.podinfo, ann, map[string]string{"app.kubernetes.io/component": c.comp}); err != nil {
		t.Fatal(err)
	}
}

func (c *ctr) conf(t *testing.T) string {
	t.Helper()
	return mustPodman(t, "exec", c.name, "cat", "/opt/apache-doris/"+c.comp+"/conf/"+c.comp+".conf")
}

var debugAnn = map[string]string{podinfo.KeyRunmode: "debug"}

// An FE and a BE on a network bootstrap (the FE founds the cluster, the BE
// registers with it) and turn ready; `podman stop` sends SIGTERM: the fake
// JVM, a grandchild under start_*.sh, finishes its cleanup before the
// container exits with 143 (start_*.sh ended by SIGTERM).
func TestClusterReadyThenStop(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", nil)
	fe.waitProbe(t, "/readyz", 200)
	be := run(t, n, "be", nil)
	body := be.waitProbe(t, "/readyz", 200)
	if !strings.Contains(body, "health, membership ok") {
		t.Fatalf("be readyz %q", body)
	}
	if !strings.Contains(be.logs(t), `"msg":"backend registered"`) {
		t.Fatalf("be logs:\n%s", be.logs(t))
	}
	for _, c := range []*ctr{be, fe} {
		mustPodman(t, "stop", "-t", "15", c.name)
		logs := c.logs(t)
		done := strings.Index(logs, "fake node: cleanup done")
		exit := strings.LastIndex(logs, `"msg":"exiting"`)
		if done < 0 || exit < done {
			t.Fatalf("%s: the fake JVM's cleanup did not finish before PID 1 exited:\n%s", c.name, logs)
		}
		if code := c.exitCode(t); code != 143 {
			t.Fatalf("%s exit code %d, want 143", c.name, code)
		}
	}
}

// Debug mode in a container: the mounted podinfo directory is updated the
// way kubelet does; status (podman exec) says debug; a MySQL client on the
// original query port gets the debug-mode error; `debug run` starts the FE
// on the moved ports; removing the annotation (after the hand-started FE is
// stopped) returns to normal with the conf as it was.
func TestDebugModeInContainer(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", nil)
	fe.waitProbe(t, "/readyz", 200)
	orig := fe.conf(t)
	fe.annotate(t, debugAnn)
	fe.waitProbe(t, "/readyz", 503)
	waitFor(t, "debug mode in status", func() bool {
		out, _ := podman(t, "exec", fe.name, "doris-entrypoint", "status")
		return strings.Contains(out, "mode:      debug") && strings.Contains(out, "query_port 9030 → 19030")
	})
	if code, body := fe.get("/livez"); code != 200 {
		t.Fatalf("livez in debug mode: %d %s", code, body)
	}
	if _, err := exec.LookPath("mysql"); err != nil {
		t.Fatal("the mysql client is needed (apt-get install default-mysql-client; .ci/run does)")
	}
	host, port, _ := strings.Cut(fe.query, ":")
	out, err := exec.Command("mysql", "--skip-ssl", "-h"+host, "-P"+port, "-uroot", "--connect-timeout=5", "-e", "select 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ERROR 1105 (HY000): pod is in debug mode") {
		t.Fatalf("mysql on the original query port: %v %s", err, out)
	}

	mustPodman(t, "exec", "-d", fe.name, "doris-entrypoint", "debug", "run")
	waitFor(t, "the hand-started FE on the moved query port", func() bool {
		out, _ := podman(t, "exec", fe.name, "netstat", "-ltn")
		return strings.Contains(out, ":19030 ")
	})
	fe.annotate(t, nil)
	waitFor(t, "the wait for the hand-started FE", func() bool {
		return strings.Contains(fe.logs(t), "waiting for the hand-started component to exit before leaving debug mode")
	})
	mustPodman(t, "exec", fe.name, "killall", "-TERM", "doris-fake")
	fe.waitProbe(t, "/readyz", 200)
	if now := fe.conf(t); now != orig {
		t.Fatalf("conf after debug mode:\n%s\nwant\n%s", now, orig)
	}
}

// The operator's preStop path in the image stops PID 1 gracefully and
// returns once it has exited.
func TestPrestopInContainer(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", nil)
	fe.waitProbe(t, "/readyz", 200)
	out, err := podman(t, "exec", fe.name, "/opt/apache-doris/fe_prestop.sh")
	mustPodman(t, "wait", fe.name)
	// The exec session may end with the container (PID 1 exited) before
	// the hook prints; podman then reports the session killed.
	if err != nil && !strings.Contains(out, "stopped") {
		if st := mustPodman(t, "inspect", "--format", "{{.State.Status}}", fe.name); st != "exited" {
			t.Fatalf("prestop: %v %s (container %s)", err, out, st)
		}
	}
	logs := fe.logs(t)
	if !strings.Contains(logs, `"reason":"prestop"`) || !strings.Contains(logs, "fake node: cleanup done") {
		t.Fatalf("logs:\n%s", logs)
	}
	if code := fe.exitCode(t); code != 143 {
		t.Fatalf("exit code %d", code)
	}
}

// SIGKILL of a container in debug mode, then a restart without the
// annotation: the conf is restored before the mode is decided.
func TestKilledInDebugRestarts(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", debugAnn)
	waitFor(t, "debug mode", func() bool { return strings.Contains(fe.logs(t), "debug mode: ports moved, liveness port held") })
	moved := fe.conf(t)
	if !strings.Contains(moved, "query_port = 19030") {
		t.Fatalf("conf in debug mode:\n%s", moved)
	}
	mustPodman(t, "kill", "-s", "KILL", fe.name)
	mustPodman(t, "wait", fe.name)
	fe.annotate(t, nil)
	mustPodman(t, "start", fe.name)
	waitFor(t, "the restore", func() bool { return strings.Contains(fe.logs(t), "conf restored after a crash in debug mode") })
	fe.probe = mustPodman(t, "port", fe.name, "8099") // a new host port after the restart
	fe.waitProbe(t, "/readyz", 200)
	if conf := fe.conf(t); !strings.Contains(conf, "query_port = 9030\n") || strings.Contains(conf, "19030") {
		t.Fatalf("conf after the restart:\n%s", conf)
	}
}

// operatorReadiness is the operator's readiness probe in FQDN mode, its
// default (apache/doris-operator pkg/common/utils/resource/pod.go,
// buildFQDNReadinessExecProbe): the images must keep bash, hostname -f,
// getent or nslookup and curl for it.
func operatorReadiness(port string) []string {
	return []string{"bash", "-c", `host=$(hostname -f); (getent hosts "$host" || nslookup "$host") && ` +
		`curl --fail --silent --output /dev/null http://$host:` + port + `/api/health`}
}

// The operator's FQDN readiness probe, run in the container as the kubelet
// would: Ready in normal mode, NotReady in debug mode (the HTTP port is
// moved and the original left closed).
func TestOperatorReadinessProbe(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", nil)
	fe.waitProbe(t, "/readyz", 200)
	probe := func() error {
		_, err := podman(t, append([]string{"exec", fe.name}, operatorReadiness("8030")...)...)
		return err
	}
	waitFor(t, "the operator's readiness probe to pass", func() bool { return probe() == nil })
	fe.annotate(t, debugAnn)
	fe.waitProbe(t, "/readyz", 503)
	waitFor(t, "the operator's readiness probe to fail in debug mode", func() bool { return probe() != nil })
	fe.annotate(t, nil)
	waitFor(t, "the operator's readiness probe to pass again", func() bool { return probe() == nil })
}
