// Command demo runs the real doris-entrypoint binary on a local sandbox: a
// temporary DORIS_ROOT whose start_fe.sh starts a simulated FE the way the
// real one starts java (shell → child, not exec), and a downward-API
// directory written the way kubelet writes it. It shows the FE running under
// PID 1, a debug round trip (annotation added: FE stopped, ports moved, the
// query port answering MySQL clients with the debug-mode error, `status`;
// annotation removed: conf identical, FE running again), then SIGTERM and the
// graceful stop: the simulated JVM finishes its cleanup before PID 1 exits.
//
// As root it runs the binary as PID 1 of a new PID namespace (unshare);
// otherwise as an ordinary process, where it becomes a subreaper.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

const startFE = `#!/bin/sh
# Simulated start_fe.sh --console: like the real one, it runs "java" as a
# child and waits for it (no exec).
echo "start_fe.sh: starting FE with $*"
sh "$(dirname "$0")/../lib/fake-java.sh" &
wait $!
`

const fakeJava = `#!/bin/sh
# Simulated FE JVM: its ports (query_port on the MySQL protocol, http_port
# with /api/health) are served by the demo program; it needs a moment to
# flush its edit log on SIGTERM.
DIR="$(dirname "$0")/.."
"$DEMO_BIN" -serve-fe "$DIR/conf/fe.conf" &
trap 'echo "fe: SIGTERM received, flushing edit log and closing BDB-JE..."; sleep 1; echo "fe: metadata flushed, bye"; touch "$DIR/cleaned"; exit 0' TERM
echo "fe: running (simulated JVM)"
touch "$DIR/running"
while :; do sleep 1 & wait $!; done
`

// The demo's endpoint and FQDN.
const (
	probeAddr = "127.0.0.1:38099"
	feFQDN    = "doriscluster-sample-fe-0.doriscluster-sample-fe-internal.doris.svc.cluster.local"
)

const feConf = `# a sandbox fe.conf
CUR_DATE=` + "`date +%Y%m%d-%H%M%S`" + `
LOG_DIR = ${DORIS_HOME}/log
http_port = 38030
query_port = 39030
edit_log_port = 39010
enable_fqdn_mode = true
`

func main() {
	bin := flag.String("entrypoint", "bin/doris-entrypoint", "the doris-entrypoint binary")
	serveFE := flag.String("serve-fe", "", "internal: serve the simulated JVM's ports for this fe.conf")
	flag.Parse()
	if *serveFE != "" {
		// The fake FE of test/fakedoris, master of its own cluster.
		if err := fakedoris.RunFE(*serveFE, nil, os.Getenv("FAKE_DIR"), feFQDN); err != nil {
			fmt.Fprintf(os.Stderr, "fe: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, a ...any) {
	fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", a...)
}

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "doris-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	fe := filepath.Join(root, "fe")
	// doris-meta/image/ROLE: the FE has metadata, so it starts without
	// looking for a master (that part needs a fake cluster).
	for path, body := range map[string]string{"bin/start_fe.sh": startFE, "lib/fake-java.sh": fakeJava, "conf/fe.conf": feConf,
		"doris-meta/image/ROLE": "role=FOLLOWER\n"} {
		p := filepath.Join(fe, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return err
		}
	}

	step("sandbox DORIS_ROOT=%s with a simulated FE (start_fe.sh → fake java)", root)
	argv := []string{bin, "fe", "doriscluster-sample-fe-service:9030"}
	pid1 := usePID1()
	if pid1 {
		argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, argv...)
		step("running as PID 1 of a new PID namespace: %s", strings.Join(argv, " "))
	} else {
		step("not root: running as an ordinary process (it becomes a subreaper): %s", strings.Join(argv, " "))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	podinfoDir := filepath.Join(root, "podinfo")
	pod := map[string]string{"app.kubernetes.io/component": "fe"}
	if err := podinfotest.Write(podinfoDir, pod, pod); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+root, "DORIS_ENTRYPOINT_LOG_FORMAT=console", "DORIS_ENTRYPOINT_STOP_TIMEOUT=30s",
		"DORIS_ENTRYPOINT_PODINFO_DIR="+podinfoDir, "DORIS_ENTRYPOINT_PROBE_ADDR="+probeAddr, "DORIS_ENTRYPOINT_PROBE_INTERVAL=1s",
		"POD_FQDN="+feFQDN, "DEMO_BIN="+self, "FAKE_DIR="+root)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := waitFile(filepath.Join(fe, "running"), exited, 20*time.Second); err != nil {
		return err
	}
	sup := cmd.Process.Pid
	if pid1 {
		sup = firstChild(sup)
	}
	step("the FE is running; process tree below doris-entrypoint (host pids):")
	printTree(sup)
	if err := waitReady(exited); err != nil {
		return err
	}
	showProbes("the FE answers /api/health and SHOW FRONTENDS lists it alive: ready")
	if err := debugRoundTrip(bin, root, podinfoDir, pod, exited); err != nil {
		return err
	}

	step("kubelet stops the pod: SIGTERM to doris-entrypoint (pid %d)", sup)
	start := time.Now()
	if err := syscall.Kill(sup, syscall.SIGTERM); err != nil {
		return err
	}
	// The simulated JVM takes 1 s to flush: readiness is already false.
	showProbes("while the FE flushes its edit log: not ready from SIGTERM on, still live")
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("doris-entrypoint did not stop within 60s")
	}
	code := cmd.ProcessState.ExitCode()
	_, cleanErr := os.Stat(filepath.Join(fe, "cleaned"))
	step("doris-entrypoint exited with code %d after %s", code, time.Since(start).Round(time.Millisecond))
	if cleanErr != nil {
		return fmt.Errorf("the simulated JVM did not finish its cleanup before PID 1 exited")
	}
	fmt.Println("    the simulated JVM (a grandchild of PID 1) finished its 1 s cleanup before PID 1 exited;")
	fmt.Println("    tini, dumb-init and catatonit exit as soon as start_fe.sh dies, cutting that cleanup short.")
	fmt.Println("    143 = start_fe.sh ended by the SIGTERM it was asked to honour (128+15).")
	if code != 143 {
		return fmt.Errorf("exit code %d, want 143", code)
	}
	return joinDemo(bin, root)
}

// joinDemo runs a small fake cluster: a fake FE master (test/fakedoris, the
// real MySQL protocol) in this process, then a new FE follower and a BE, each
// doris-entrypoint as PID 1 of its own PID namespace, bootstrapping against it.
// usePID1 says whether doris-entrypoint can run as PID 1 of a new PID
// namespace here (root and unshare).
func usePID1() bool {
	_, err := exec.LookPath("unshare")
	return os.Geteuid() == 0 && err == nil
}

func joinDemo(bin, root string) error {
	step("a fake cluster: an FE master on the MySQL protocol (test/fakedoris); a new FE and a BE join it")
	c := fakedoris.NewCluster(fakedoris.Layout21)
	const master = "doriscluster-sample-fe-0.doriscluster-sample-fe-internal.doris.svc.cluster.local"
	c.AddFrontend(fakedoris.Frontend{Host: master, EditLogPort: 9010, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, ArrowPort: -1,
		Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fe := fakedoris.ServeFE(ln, c, master)
	defer fe.Close()
	pid1 := usePID1()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			sup := p.Process.Pid
			if pid1 {
				sup = firstChild(sup)
			}
			syscall.Kill(sup, syscall.SIGTERM)
			p.Wait()
		}
	}()
	for _, n := range []struct{ comp, fqdn string }{
		{"fe", "doriscluster-sample-fe-1.doriscluster-sample-fe-internal.doris.svc.cluster.local"},
		{"be", "doriscluster-sample-be-0.doriscluster-sample-be-internal.doris.svc.cluster.local"},
	} {
		dir := filepath.Join(root, "join-"+n.comp)
		script := "#!/bin/sh\necho \"start_" + n.comp + ".sh: starting with $*\"\ntouch \"$(dirname \"$0\")/../running\"\nwhile :; do sleep 1; done\n"
		for path, body := range map[string]string{n.comp + "/bin/start_" + n.comp + ".sh": script, n.comp + "/conf/" + n.comp + ".conf": "enable_fqdn_mode = true\n"} {
			p := filepath.Join(dir, path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
				return err
			}
		}
		argv := []string{bin, n.comp, ln.Addr().String()}
		if pid1 {
			argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DORIS_ROOT="+dir, "POD_FQDN="+n.fqdn, "DORIS_ENTRYPOINT_LOG_FORMAT=console", "DORIS_ENTRYPOINT_PROBE_ADDR=",
			"DORIS_ENTRYPOINT_PODINFO_DIR="+filepath.Join(dir, "podinfo"), "CONFIGMAP_MOUNT_PATH="+filepath.Join(dir, "none"))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		if err := waitFile(filepath.Join(dir, n.comp, "running"), make(chan error), 20*time.Second); err != nil {
			return fmt.Errorf("%s: %w", n.comp, err)
		}
	}
	step("the cluster as the FE sees it now (SHOW FRONTENDS / SHOW BACKENDS):")
	var cl cluster.Client
	fes, err := cl.ShowFrontends(context.Background(), ln.Addr().String())
	if err != nil {
		return err
	}
	for _, f := range fes {
		fmt.Printf("    FE %-80s %-8s master=%v\n", f.Host+":"+strconv.Itoa(f.EditLogPort), f.Role, f.IsMaster)
	}
	bes, err := cl.ShowBackends(context.Background(), ln.Addr().String())
	if err != nil {
		return err
	}
	for _, b := range bes {
		fmt.Printf("    BE %-80s alive=%v\n", b.Host+":"+strconv.Itoa(b.HeartbeatPort), b.Alive)
	}
	if len(fes) != 2 || len(bes) != 1 {
		return fmt.Errorf("the new FE and BE did not both join")
	}
	fmt.Println("    the new FE joined as FOLLOWER and started with --helper <master>:9010; the BE registered, then started")
	return nil
}

// debugRoundTrip annotates the pod for debug mode kubelet-style, shows what
// changes, and removes the annotation again.
func debugRoundTrip(bin, root, podinfoDir string, pod map[string]string, exited <-chan error) error {
	fe := filepath.Join(root, "fe")
	conf := filepath.Join(fe, "conf", "fe.conf")
	orig, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	debug := map[string]string{podinfo.KeyRunmode: "debug"}
	for k, v := range pod {
		debug[k] = v
	}
	step("kubectl annotate pod … %s=debug (kubelet swaps ..data in %s)", podinfo.KeyRunmode, podinfoDir)
	os.Remove(filepath.Join(fe, "running"))
	if err := podinfotest.Write(podinfoDir, debug, pod); err != nil {
		return err
	}
	if err := waitMode(root, "debug", exited); err != nil {
		return err
	}
	showProbes("debug mode: live and started (the pod stays Running), not ready (out of the Service)")
	step("kubectl exec … doris-entrypoint status")
	status := exec.Command(bin, "status")
	status.Env = append(os.Environ(), "DORIS_ROOT="+root)
	out, _ := status.CombinedOutput()
	fmt.Print(indent(string(out)))
	step("the ports moved in fe.conf (only those lines changed):")
	patched, _ := os.ReadFile(conf)
	for _, l := range strings.Split(string(patched), "\n") {
		if strings.HasPrefix(l, "query_port") || strings.HasPrefix(l, "http_port") {
			fmt.Println("    " + l)
		}
	}
	step("a MySQL client on the original query port 39030:")
	fmt.Println("    " + mysqlGreeting("127.0.0.1:39030"))

	step("kubectl annotate pod … %s- (annotation removed)", podinfo.KeyRunmode)
	if err := podinfotest.Write(podinfoDir, pod, pod); err != nil {
		return err
	}
	if err := waitMode(root, "normal", exited); err != nil {
		return err
	}
	if err := waitFile(filepath.Join(fe, "running"), exited, 20*time.Second); err != nil {
		return err
	}
	now, _ := os.ReadFile(conf)
	if !bytes.Equal(now, orig) {
		return fmt.Errorf("fe.conf differs from the original after debug mode")
	}
	fmt.Println("    the FE runs again; fe.conf is byte-for-byte the original; no restart, no pod deletion")
	if err := waitReady(exited); err != nil {
		return err
	}
	showProbes("back in normal mode: ready again")
	return nil
}

// get asks the demo's probe endpoint for path.
func get(path string) (int, string) {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + probeAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitReady waits until /readyz answers 200.
func waitReady(exited <-chan error) error {
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if code, _ := get("/readyz"); code == 200 {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("doris-entrypoint exited early: %v", err)
		case <-deadline:
			_, why := get("/readyz")
			return fmt.Errorf("never ready: %s", why)
		case <-tick.C:
		}
	}
}

// showProbes prints the three probes and /status as kubelet and a user see them.
func showProbes(title string) {
	step("probe endpoint %s: %s", probeAddr, title)
	for _, p := range []string{"/livez", "/readyz", "/startupz"} {
		code, body := get(p)
		fmt.Printf("    GET %-9s %d  %s\n", p, code, body)
	}
	_, st := get("/status")
	fmt.Printf("    GET /status\n%s", indent(indent(st)))
}

// waitMode waits until the supervisor's state file says mode.
func waitMode(root, mode string, exited <-chan error) error {
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := modes.ReadState(filepath.Join(root, ".doris-entrypoint", "state.json")); err == nil && st.Mode == mode {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("doris-entrypoint exited early: %v", err)
		case <-deadline:
			return fmt.Errorf("mode did not become %s", mode)
		case <-tick.C:
		}
	}
}

// mysqlGreeting connects like a MySQL client and renders what it gets as
// the mysql client would print an error packet.
func mysqlGreeting(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "connection failed: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	if len(b) > 13 && b[4] == 0xff && b[7] == '#' {
		return fmt.Sprintf("ERROR %d (%s): %s", int(b[5])|int(b[6])<<8, b[8:13], b[13:])
	}
	return fmt.Sprintf("%q", b)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// waitFile waits until path exists, the process exits, or the timeout.
func waitFile(path string, exited <-chan error, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("doris-entrypoint exited early: %v", err)
		case <-deadline:
			return fmt.Errorf("the simulated FE did not start within %s", timeout)
		case <-tick.C:
		}
	}
}

// firstChild returns the first child of pid (unshare's child is the supervisor).
func firstChild(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if f := strings.Fields(string(b)); len(f) > 0 {
		if c, err := strconv.Atoi(f[0]); err == nil {
			return c
		}
	}
	return pid
}

// printTree prints pid and its descendants with their process groups.
func printTree(pid int) {
	kids := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, _, ok := stat(p); ok {
			kids[pp] = append(kids[pp], p)
		}
	}
	var walk func(p, depth int)
	walk = func(p, depth int) {
		_, pgid, _ := stat(p)
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		args := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		fmt.Printf("    %s%-6d pgid %-6d %s\n", strings.Repeat("  ", depth), p, pgid, args)
		for _, k := range kids[p] {
			walk(k, depth+1)
		}
	}
	walk(pid, 0)
}

func stat(pid int) (ppid, pgid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	if i < 0 || len(f) < 3 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(string(f[1]))
	pgid, _ = strconv.Atoi(string(f[2]))
	return ppid, pgid, true
}
