//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	kubepkg "github.com/apache/doris-entrypoint/test/e2e/kube"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// The walk: the cluster-operations page, step by step, on the objects the
// operator 26.0.0 makes (StatefulSets, Services, FQDN mode through the
// cluster DNS, the pod network). The tests share one DorisCluster "doris"
// and run in order; each says what it starts from.

// walkEnv is what every walk pod gets in spec.<comp>.envVars: a short wait
// before fe-0 starts a new cluster (no FE master answers at the very first
// start), and the fake FE's heartbeat.
var walkEnv = map[string]string{"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT": "5s"}

// applyWorkload applies one component's objects.
func applyWorkload(t *testing.T, w kubepkg.Workload) {
	t.Helper()
	if w.Env == nil {
		w.Env = walkEnv
	}
	m, err := kube.Manifest(w)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kube.KubectlIn(m, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply %s: %v\n%s", w.Comp, err, out)
	}
}

// scaleTo patches a StatefulSet's replicas, as the operator does for a
// changed spec.<comp>.replicas.
func scaleTo(t *testing.T, sts string, n int) {
	t.Helper()
	if out, err := kube.Kubectl("patch", "statefulset", sts, "--type=merge", "-p", fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)); err != nil {
		t.Fatalf("patch %s replicas %d: %v\n%s", sts, n, err, out)
	}
}

// pods are the names sts-0 … sts-(n-1).
func pods(sts string, from, to int) []string {
	var names []string
	for i := from; i < to; i++ {
		names = append(names, fmt.Sprintf("%s-%d", sts, i))
	}
	return names
}

func waitReady(t *testing.T, d time.Duration, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Logf("%s Ready after %s", n, waitPod(t, n, "Ready", d, ready).Round(time.Millisecond))
	}
}

func waitGone(t *testing.T, d time.Duration, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Logf("%s gone after %s", n, waitPod(t, n, "gone", d, func(p pod) bool { return p.gone }).Round(time.Millisecond))
	}
}

// podIP is a running pod's address on the pod network.
func podIP(t *testing.T, name string) string {
	t.Helper()
	ip, err := kube.Kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}")
	if err != nil || ip == "" {
		t.Fatalf("pod %s IP: %v %q", name, err, ip)
	}
	return ip
}

// query runs SQL on the FE of pod fe (any FE forwards to the master) with
// this machine's mysql client, over the pod network, and returns the rows
// by column name.
func query(t *testing.T, fe, q string) []map[string]string {
	t.Helper()
	out, err := exec.Command("mysql", "--skip-ssl", "-h"+podIP(t, fe), "-P9030", "-uroot", "--connect-timeout=5", "-B", "-e", q).CombinedOutput()
	if err != nil {
		t.Fatalf("%s on %s: %v\n%s", q, fe, err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, v := range strings.Split(l, "\t") {
			if i < len(head) {
				row[head[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// waitRows polls a SHOW statement until ok accepts its rows.
func waitRows(t *testing.T, q, what string, d time.Duration, ok func([]map[string]string) bool) []map[string]string {
	t.Helper()
	start := time.Now()
	for {
		rows := query(t, "doris-fe-0", q)
		if ok(rows) {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
			return rows
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not after %s: %v", what, d, rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// allAlive says every row is Alive, and there are n of them whose Host
// starts with prefix.
func allAlive(prefix string, n int) func([]map[string]string) bool {
	return func(rows []map[string]string) bool {
		c := 0
		for _, r := range rows {
			if strings.HasPrefix(r["Host"], prefix) {
				if r["Alive"] != "true" {
					return false
				}
				c++
			}
		}
		return c == n
	}
}

// tabletSum is the TabletNum of every backend whose Host starts with prefix.
func tabletSum(rows []map[string]string, prefix string) int {
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r["Host"], prefix) {
			v, _ := strconv.Atoi(r["TabletNum"])
			n += v
		}
	}
	return n
}

func logsOnFailureSts(t *testing.T, sts string, n int) { logsOnFailure(t, pods(sts, 0, n)...) }

// followLogs keeps the log of a pod that is about to go away (kubectl logs
// -f until it ends), and prints it if the test fails: a scaled-in pod's
// log is gone with it.
func followLogs(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(kube.Bin, "kubectl"), "--kubeconfig", kube.Kubeconfig, "logs", "-f", name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Logf("kubectl logs -f %s: %v", name, err)
		return
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s log (followed):\n%s", name, out.String())
		}
	})
}

// Walk 2. FE scale-out 1→3 with kubectl patch of replicas: the new FEs join
// as FOLLOWERs, all are Ready, and show frontends (through kubectl exec and
// the pod's mysql) lists them Alive.
func TestWalkFEScaleOut(t *testing.T) {
	logsOnFailureSts(t, "doris-fe", 3)
	applyWorkload(t, kubepkg.Workload{Comp: "fe", Replicas: 1})
	waitReady(t, 3*time.Minute, "doris-fe-0")
	scaleTo(t, "doris-fe", 3)
	waitReady(t, 3*time.Minute, pods("doris-fe", 1, 3)...)
	rows := waitRows(t, "show frontends", "3 FEs alive", time.Minute, allAlive("doris-fe-", 3))
	for _, r := range rows {
		if r["Role"] != "FOLLOWER" {
			t.Errorf("%s: Role %s, want FOLLOWER (ELECT_NUMBER 3)", r["Host"], r["Role"])
		}
	}
	out, err := kube.Kubectl("exec", "doris-fe-0", "--", "mysql", "-uroot", "-P9030", "-h127.0.0.1", "-e", "show frontends")
	if err != nil || strings.Count(out, ".doris-fe-internal.") != 3 {
		t.Fatalf("kubectl exec doris-fe-0 -- mysql -e 'show frontends': %v\n%s", err, out)
	}
}

// Walk 3. BE scale-out 1→3: registered, Alive.
func TestWalkBEScaleOut(t *testing.T) {
	logsOnFailureSts(t, "doris-be", 3)
	applyWorkload(t, kubepkg.Workload{Comp: "be", Replicas: 1})
	waitReady(t, 3*time.Minute, "doris-be-0")
	scaleTo(t, "doris-be", 3)
	waitReady(t, 3*time.Minute, pods("doris-be", 1, 3)...)
	waitRows(t, "show backends", "3 BEs alive", time.Minute, allAlive("doris-be-", 3))
}

// Walk 4. BE scale-in 3→2 with single-replica data: the removed BE
// decommissions first; 0 tablets lost, no dead entry in SHOW BACKENDS.
// Then 5→3 in parallel.
func TestWalkBEScaleIn(t *testing.T) {
	logsOnFailureSts(t, "doris-be", 5)
	const buckets = 12
	query(t, "doris-fe-0", "CREATE DATABASE IF NOT EXISTS walk")
	query(t, "doris-fe-0", fmt.Sprintf(`CREATE TABLE walk.single (k INT) DISTRIBUTED BY HASH(k) BUCKETS %d PROPERTIES ("replication_num" = "1")`, buckets))
	before := waitRows(t, "show backends", "the tablets on 3 BEs", time.Minute, func(rows []map[string]string) bool {
		return tabletSum(rows, "doris-be-") == buckets
	})
	t.Logf("doris-be-2 holds %d tablets", tabletSum(before, "doris-be-2."))
	scaleTo(t, "doris-be", 2)
	waitGone(t, 3*time.Minute, "doris-be-2")
	rows := waitRows(t, "show backends", "2 BEs, every tablet kept", time.Minute, func(rows []map[string]string) bool {
		return len(rows) == 2 && allAlive("doris-be-", 2)(rows) && tabletSum(rows, "doris-be-") == buckets
	})
	_ = rows
	waitEvent(t, "doris-be-2", "DecommissionDone")

	// 5→3: both surplus pods go at once (Parallel), and decommission at once.
	scaleTo(t, "doris-be", 5)
	waitReady(t, 3*time.Minute, pods("doris-be", 2, 5)...)
	waitRows(t, "show backends", "5 BEs alive", time.Minute, allAlive("doris-be-", 5))
	// The FE's balancer fills the new BEs: the two that leave really hold
	// tablets.
	placed := waitRows(t, "show backends", "tablets balanced onto doris-be-3 and doris-be-4", 2*time.Minute, func(rows []map[string]string) bool {
		return tabletSum(rows, "doris-be-3.") > 0 && tabletSum(rows, "doris-be-4.") > 0 && tabletSum(rows, "doris-be-") == buckets
	})
	t.Logf("doris-be-3 holds %d tablets, doris-be-4 %d", tabletSum(placed, "doris-be-3."), tabletSum(placed, "doris-be-4."))
	followLogs(t, "doris-be-3")
	followLogs(t, "doris-be-4")
	scaleTo(t, "doris-be", 3)
	waitGone(t, 3*time.Minute, "doris-be-3", "doris-be-4")
	waitEvent(t, "doris-be-3", "DecommissionDone")
	waitEvent(t, "doris-be-4", "DecommissionDone")
	waitRows(t, "show backends", "3 BEs, every tablet kept", time.Minute, func(rows []map[string]string) bool {
		return len(rows) == 3 && allAlive("doris-be-", 3)(rows) && tabletSum(rows, "doris-be-") == buckets
	})
}

// beRow is the SHOW BACKENDS row of a pod's BE.
func beRow(rows []map[string]string, podName string) map[string]string {
	for _, r := range rows {
		if strings.HasPrefix(r["Host"], podName+".") {
			return r
		}
	}
	return nil
}

// podEventsNamed lists "reason: message" of the Events about any pod named
// name (all its incarnations).
func podEventsNamed(t *testing.T, name string) string {
	t.Helper()
	out, _ := kube.Kubectl("get", "events", "--field-selector", "involvedObject.name="+name, "-o", "custom-columns=REASON:.reason,MSG:.message")
	return out
}

// waitEvent waits for an Event with reason about a pod named name (any of
// its incarnations; the recorder posts asynchronously) and logs it.
func waitEvent(t *testing.T, name, reason string) {
	t.Helper()
	var ev string
	if err := kubepkg.Poll(reason+" on "+name, 30*time.Second, func() error {
		ev = podEventsNamed(t, name)
		for _, line := range strings.Split(ev, "\n") {
			if strings.HasPrefix(line, reason+" ") {
				t.Logf("%s: %s", name, line)
				return nil
			}
		}
		return fmt.Errorf("not among:\n%s", ev)
	}); err != nil {
		t.Fatal(err)
	}
}

// Walk 4, continued. A budget too short: the decommission is left
// incomplete (Warning DecommissionIncomplete), the BE stays registered and
// decommissioned with its tablets; a scale back out cancels the
// decommission. Then the refused case: 3 replicas on 3 BEs cannot go to 2
// (Warning ScaleInUnsafe, the BE stays registered with its replicas).
func TestWalkBEScaleInLimits(t *testing.T) {
	logsOnFailureSts(t, "doris-be", 3)
	const big = 3000
	query(t, "doris-fe-0", fmt.Sprintf(`CREATE TABLE walk.big (k INT) DISTRIBUTED BY HASH(k) BUCKETS %d PROPERTIES ("replication_num" = "1")`, big))
	total := tabletSum(query(t, "doris-fe-0", "show backends"), "doris-be-")
	// spec.beSpec.envVars: a stop budget of 10 s (the fake FE moves ~50
	// replicas a second: ~1000 need 20 s). The StatefulSet rolls.
	env := map[string]string{"DORIS_ENTRYPOINT_STOP_TIMEOUT": "10s"}
	for k, v := range walkEnv {
		env[k] = v
	}
	applyWorkload(t, kubepkg.Workload{Comp: "be", Replicas: 3, Env: env})
	waitRollout(t, "doris-be")
	waitRows(t, "show backends", "3 BEs alive", time.Minute, allAlive("doris-be-", 3))
	scaleTo(t, "doris-be", 2)
	waitGone(t, 2*time.Minute, "doris-be-2")
	waitEvent(t, "doris-be-2", "DecommissionIncomplete")
	rows := query(t, "doris-fe-0", "show backends")
	r := beRow(rows, "doris-be-2")
	if r == nil || r["SystemDecommissioned"] != "true" || r["TabletNum"] == "0" {
		t.Fatalf("doris-be-2 after a short budget: %v (want still registered, decommissioned, with tablets)", r)
	}
	t.Logf("doris-be-2 left decommissioned with %s tablets", r["TabletNum"])
	scaleTo(t, "doris-be", 3)
	waitReady(t, 3*time.Minute, "doris-be-2")
	waitRows(t, "show backends", "doris-be-2 back, decommission cancelled, nothing lost", time.Minute, func(rows []map[string]string) bool {
		r := beRow(rows, "doris-be-2")
		return r != nil && r["Alive"] == "true" && r["SystemDecommissioned"] == "false" && tabletSum(rows, "doris-be-") == total
	})
	waitEvent(t, "doris-be-2", "DecommissionCancelled")

	// Refused: a table with 3 replicas on 3 BEs.
	query(t, "doris-fe-0", `CREATE TABLE walk.triple (k INT) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES ("replication_num" = "3")`)
	before := tabletSum(query(t, "doris-fe-0", "show backends"), "doris-be-")
	scaleTo(t, "doris-be", 2)
	waitGone(t, 2*time.Minute, "doris-be-2")
	waitEvent(t, "doris-be-2", "ScaleInUnsafe")
	rows = query(t, "doris-fe-0", "show backends")
	if r := beRow(rows, "doris-be-2"); r == nil || r["SystemDecommissioned"] == "true" || tabletSum(rows, "doris-be-") != before {
		t.Fatalf("refused scale-in: doris-be-2 %v, tablets %d want %d (registered, not decommissioned, nothing dropped)", r, tabletSum(rows, "doris-be-"), before)
	}
	scaleTo(t, "doris-be", 3)
	waitReady(t, 3*time.Minute, "doris-be-2")
	waitRows(t, "show backends", "3 BEs alive", time.Minute, allAlive("doris-be-", 3))
}

// Walk 5. CN scale-in 2→1: no dead entry, also when the FE marked the CN
// dead before its drop (SHOW BACKENDS then shows NodeRole ""). FE observer
// scale-in: dropped.
func TestWalkCNAndObserverScaleIn(t *testing.T) {
	logsOnFailureSts(t, "doris-cn", 2)
	// The fake CN's heartbeat goes first when it stops, and it takes 3 s
	// to exit: the master marks it dead before the supervisor drops it.
	env := map[string]string{"FAKE_STOP_HEARTBEAT_FIRST": "1", "FAKE_STOP_DELAY": "3s"}
	for k, v := range walkEnv {
		env[k] = v
	}
	applyWorkload(t, kubepkg.Workload{Comp: "cn", Replicas: 2, Env: env})
	waitReady(t, 3*time.Minute, pods("doris-cn", 0, 2)...)
	waitRows(t, "show backends", "2 CNs alive", time.Minute, allAlive("doris-cn-", 2))
	followLogs(t, "doris-cn-1")
	scaleTo(t, "doris-cn", 1)
	waitRows(t, "show backends", "doris-cn-1 marked dead, its NodeRole blank", time.Minute, func(rows []map[string]string) bool {
		r := beRow(rows, "doris-cn-1")
		return r != nil && r["Alive"] == "false" && r["NodeRole"] == ""
	})
	waitGone(t, 3*time.Minute, "doris-cn-1")
	waitEvent(t, "doris-cn-1", "ComputeNodeDropped")
	waitRows(t, "show backends", "doris-cn-1 dropped", time.Minute, func(rows []map[string]string) bool {
		return allAlive("doris-cn-", 1)(rows) && allAlive("doris-cn-1.", 0)(rows)
	})

	// A fourth FE beyond ELECT_NUMBER 3 is an OBSERVER; scaled in, it drops itself.
	scaleTo(t, "doris-fe", 4)
	waitReady(t, 3*time.Minute, "doris-fe-3")
	rows := waitRows(t, "show frontends", "4 FEs alive", time.Minute, allAlive("doris-fe-", 4))
	for _, r := range rows {
		if strings.HasPrefix(r["Host"], "doris-fe-3.") && r["Role"] != "OBSERVER" {
			t.Fatalf("doris-fe-3: Role %s, want OBSERVER", r["Role"])
		}
	}
	scaleTo(t, "doris-fe", 3)
	waitGone(t, 3*time.Minute, "doris-fe-3")
	waitEvent(t, "doris-fe-3", "FrontendDropped")
	waitRows(t, "show frontends", "doris-fe-3 dropped", time.Minute, func(rows []map[string]string) bool {
		return len(rows) == 3 && allAlive("doris-fe-", 3)(rows)
	})
}

// execIn runs a command in a pod's container (kubectl exec) and returns its
// output and exit code.
func execIn(t *testing.T, pod string, args ...string) (string, int) {
	t.Helper()
	out, err := kube.Kubectl(append([]string{"exec", pod, "--"}, args...)...)
	if err == nil {
		return out, 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out, ee.ExitCode()
	}
	t.Fatalf("kubectl exec %s %v: %v\n%s", pod, args, err, out)
	return "", -1
}

// runmodeKeys are the three annotation keys the operator and the Doris
// website have used (apache/doris-operator 25.6.0–25.7.0 apache.com.doris,
// 25.8.0 on apache.org.doris, every version selectdb.com.doris).
var runmodeKeys = []string{"selectdb.com.doris/runmode", "apache.com.doris/runmode", "apache.org.doris/runmode"}

// movedPort reads "key FROM → TO" off `status`.
func movedPort(status, key string) string {
	for _, line := range strings.Split(status, "\n") {
		if i := strings.Index(line, key+" "); i >= 0 {
			if f := strings.Fields(line[i:]); len(f) >= 4 && f[2] == "→" {
				return f[3]
			}
		}
	}
	return ""
}

// Walk 1. Debug mode on a crash-looping BE of a StatefulSet, with each of
// the three keys: annotated, the pod is Running (and NotReady through the
// operator's FQDN readiness probe); kubectl exec … status says debug and
// which key; debug run starts the BE on the moved ports; the cause is
// fixed from inside; the annotation removed: a normal start in place,
// Ready, restarts unchanged.
func TestWalkDebugCrashLoopingBE(t *testing.T) {
	const name = "doris-becrash-0"
	logsOnFailure(t, name)
	// The cause of the crash loop, on a volume the user can reach from a
	// debug session: the fake start_be.sh fails while the file exists.
	crash := "/var/run/fake-doris/crash-" + name
	env := map[string]string{"FAKE_CRASH_FILE": crash}
	for k, v := range walkEnv {
		env[k] = v
	}
	hostCrash := kube.Path("fake-doris/crash-" + name)
	if err := os.MkdirAll(kube.Path("fake-doris"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, key := range runmodeKeys {
		if err := os.WriteFile(hostCrash, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			applyWorkload(t, kubepkg.Workload{Comp: "be", Name: "doris-becrash", Replicas: 1, Env: env})
		} else {
			old := getPod(t, name).Metadata.UID
			kube.Kubectl("delete", "pod", name, "--wait=false") // a fresh pod: the kubelet's back-off starts again
			waitPod(t, name, "recreated", 2*time.Minute, func(p pod) bool { return !p.gone && p.Metadata.UID != old })
		}
		waitPod(t, name, "crash-looping", 3*time.Minute, func(p pod) bool { return restarts(p) >= 1 })
		if out, err := kube.Kubectl("annotate", "pod", name, key+"=debug", "--overwrite"); err != nil {
			t.Fatalf("annotate %s: %v %s", key, err, out)
		}
		start := time.Now()
		var status string
		kubepkg.Poll("debug mode via "+key, 3*time.Minute, func() error {
			p := getPod(t, name)
			if !running(p) {
				return fmt.Errorf("not running: %+v", p.Status)
			}
			status, _ = execIn(t, name, "doris-entrypoint", "status")
			if !strings.Contains(status, "mode:      debug") {
				return fmt.Errorf("status:\n%s", status)
			}
			return nil
		})
		if !strings.Contains(status, "mode:      debug") || !strings.Contains(status, key+"-") {
			t.Fatalf("%s: status:\n%s", key, status)
		}
		t.Logf("%s: debug mode (Running) %s after the annotation", key, time.Since(start).Round(time.Millisecond))
		p := getPod(t, name)
		if ready(p) {
			t.Fatalf("%s: Ready in debug mode: the FQDN readiness probe must read NotReady", key)
		}
		held := restarts(p)
		if i == len(runmodeKeys)-1 {
			// Three liveness periods later it is still Running, not restarted.
			before := livenessSuccesses(t, name)
			waitPod(t, name, "through three liveness probes", 2*time.Minute, func(p pod) bool { return livenessSuccesses(t, name) >= before+3 })
			if p := getPod(t, name); !running(p) || restarts(p) != held {
				t.Fatalf("%s: restarted in debug mode: %+v", key, p.Status)
			}
			// The fix, from inside; then debug run on the moved ports.
			execIn(t, name, "rm", "-f", crash)
			web := movedPort(status, "webserver_port")
			if web == "" {
				t.Fatalf("no moved webserver_port in status:\n%s", status)
			}
			// In its own session, as in a terminal: Ctrl-C there is a
			// signal to the group (start_be.sh and the server under it).
			pidOut, _ := execIn(t, name, "sh", "-c", "setsid doris-entrypoint debug run >/tmp/debug-run.log 2>&1 & echo $!")
			if err := kubepkg.Poll("debug run answering on "+web, time.Minute, func() error {
				if out, rc := execIn(t, name, "curl", "--fail", "--silent", "http://127.0.0.1:"+web+"/api/health"); rc != 0 {
					return fmt.Errorf("curl rc %d %s", rc, out)
				}
				return nil
			}); err != nil {
				log, _ := execIn(t, name, "cat", "/tmp/debug-run.log")
				t.Fatalf("%v\n%s", err, log)
			}
			execIn(t, name, "kill", "-TERM", "-"+strings.TrimSpace(pidOut)) // SIGINT: ignored by a background job of sh
			kubepkg.Poll("debug run stopped", time.Minute, func() error {
				if _, rc := execIn(t, name, "curl", "--fail", "--silent", "http://127.0.0.1:"+web+"/api/health"); rc == 0 {
					return fmt.Errorf("still answering")
				}
				return nil
			})
		} else {
			os.Remove(hostCrash)
		}
		if out, err := kube.Kubectl("annotate", "pod", name, key+"-"); err != nil {
			t.Fatalf("annotate %s-: %v %s", key, err, out)
		}
		waitPod(t, name, "Ready after the annotation was removed", 3*time.Minute, ready)
		if p := getPod(t, name); restarts(p) != held {
			t.Fatalf("%s: restarts %d, want %d (a start in place)", key, restarts(p), held)
		}
	}
	followLogs(t, name)
	scaleTo(t, "doris-becrash", 0)
	waitGone(t, 3*time.Minute, name)
	waitRows(t, "show backends", name+" gone from SHOW BACKENDS", time.Minute, func(rows []map[string]string) bool {
		return beRow(rows, "doris-becrash-0") == nil
	})
}

// feMaster is the Host of the FE master in SHOW FRONTENDS.
func feMaster(rows []map[string]string) string {
	for _, r := range rows {
		if r["IsMaster"] == "true" {
			return r["Host"]
		}
	}
	return ""
}

// flagsOn says the three balance flags read true on the FE that answers.
func flagsOn(t *testing.T) (bool, string) {
	t.Helper()
	var got []string
	on := true
	for _, f := range []string{"disable_balance", "disable_colocate_balance", "disable_tablet_scheduler"} {
		rows := query(t, "doris-fe-0", "ADMIN SHOW FRONTEND CONFIG LIKE '"+f+"'")
		v := ""
		if len(rows) > 0 {
			v = rows[0]["Value"]
		}
		got = append(got, f+"="+v)
		on = on && v == "true"
	}
	return on, strings.Join(got, " ")
}

// setImage changes a StatefulSet's image, as the operator does for a
// changed spec.<comp>.image, and waits for the rolling update.
func setImage(t *testing.T, sts, container, tag string) {
	t.Helper()
	comp := container
	if comp == "cn" {
		comp = "be"
	}
	if out, err := kube.Kubectl("set", "image", "statefulset/"+sts, container+"="+kubepkg.Image(comp, tag)); err != nil {
		t.Fatalf("set image %s: %v\n%s", sts, err, out)
	}
}

// waitRollout waits for a StatefulSet's rolling update and checks that it
// took one pod at a time: never more than one of its pods missing or not
// Ready (polled every 200 ms). Not for the FEs: while the master restarts
// the others elect, and their readiness may drop for those seconds.
func waitRollout(t *testing.T, sts string) {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	worst := make(chan int, 1)
	go func() {
		most := 0
		for {
			select {
			case <-done:
				worst <- most
				return
			case <-time.After(200 * time.Millisecond):
			}
			if n, ok := podsDown(sts); ok && n > most {
				most = n
			}
		}
	}()
	out, err := kube.Kubectl("rollout", "status", "statefulset/"+sts, "--timeout=8m")
	close(done)
	if err != nil {
		t.Fatalf("rollout %s: %v\n%s", sts, err, out)
	}
	most := <-worst
	t.Logf("%s rolled in %s, at most %d pod(s) down at once", sts, time.Since(start).Round(time.Second), most)
	if most > 1 && sts != "doris-fe" {
		t.Fatalf("%s: %d pods down at once during the rolling update, want one at a time", sts, most)
	}
}

// podsDown counts a StatefulSet's pods that are missing or not Ready
// against its replicas (ok false: the API did not answer).
func podsDown(sts string) (int, bool) {
	code, body, err := kube.API("GET", "/apis/apps/v1/namespaces/doris/statefulsets/"+sts, nil)
	if err != nil || code != 200 {
		return 0, false
	}
	var set struct {
		Spec struct {
			Replicas int `json:"replicas"`
		} `json:"spec"`
	}
	if json.Unmarshal(body, &set) != nil {
		return 0, false
	}
	code, body, err = kube.API("GET", "/api/v1/namespaces/doris/pods?labelSelector=app.doris.ownerreference/name%3D"+sts, nil)
	if err != nil || code != 200 {
		return 0, false
	}
	var list struct {
		Items []pod `json:"items"`
	}
	if json.Unmarshal(body, &list) != nil {
		return 0, false
	}
	readyPods := 0
	for _, p := range list.Items {
		if ready(p) {
			readyPods++
		}
	}
	return max(set.Spec.Replicas-readyPods, 0), true
}

// versions maps Host prefix → Version of SHOW FRONTENDS/BACKENDS rows.
func versionsOf(rows []map[string]string, prefix string) map[string]bool {
	m := map[string]bool{}
	for _, r := range rows {
		if strings.HasPrefix(r["Host"], prefix) {
			m[r["Version"]] = true
		}
	}
	return m
}

func onVersion(prefix, version string, n int) func([]map[string]string) bool {
	return func(rows []map[string]string) bool {
		c := 0
		for _, r := range rows {
			if strings.HasPrefix(r["Host"], prefix) {
				if r["Version"] != version || r["Alive"] != "true" {
					return false
				}
				c++
			}
		}
		return c == n
	}
}

// aliveOn says there is an alive row whose Host starts with prefix, and
// every alive one is on version (the dead keep their last heartbeat's).
func aliveOn(prefix, version string) func([]map[string]string) bool {
	return func(rows []map[string]string) bool {
		c := 0
		for _, r := range rows {
			if strings.HasPrefix(r["Host"], prefix) && r["Alive"] == "true" {
				if r["Version"] != version {
					return false
				}
				c++
			}
		}
		return c > 0
	}
}

// deadOldBackend makes a BE that last reported the old line and is dead:
// a hand-written BE pod (e2e_test.go podSpec, FQDN <name>.e2e-pods…, no
// API access: its stop is an ordinary one, no scale-in) on Tag, which
// reports fakedoris.DefaultVersion, registering with the walk's FEs
// through doris-fe-service (the StatefulSets' $(ENV_FE_ADDR)); listed
// Alive on that version, it is deleted, and the master marks it dead at
// its first missed heartbeat, the row keeping the version of its last
// one. With the balance and the tablet scheduler off (upgrade begin) it
// gets no tablets. It returns the row's "host:port".
func deadOldBackend(t *testing.T, name string) string {
	t.Helper()
	createPod(t, "be", name, podOpts{tag: kubepkg.Tag, fe: "doris-fe-service"})
	t.Cleanup(func() { deletePod(t, name) })
	waitRows(t, "show backends", name+" Alive on "+fakedoris.DefaultVersion, 2*time.Minute, func(rows []map[string]string) bool {
		r := beRow(rows, name)
		return r != nil && r["Alive"] == "true" && r["Version"] == fakedoris.DefaultVersion
	})
	followLogs(t, name)
	deletePod(t, name)
	rows := waitRows(t, "show backends", name+" dead, listed on "+fakedoris.DefaultVersion, time.Minute, func(rows []map[string]string) bool {
		r := beRow(rows, name)
		return r != nil && r["Alive"] == "false" && r["Version"] == fakedoris.DefaultVersion
	})
	r := beRow(rows, name)
	return r["Host"] + ":" + r["HeartbeatPort"]
}

// waitNotAliveEvent waits for an FE pod's Warning UpgradeOrderNotAlive
// naming the BE of pod name (cluster/upgrade_order.go: "host (version)").
func waitNotAliveEvent(t *testing.T, name string) {
	t.Helper()
	want := name + ".e2e-pods.doris.svc.cluster.local (" + fakedoris.DefaultVersion + ")"
	if err := kubepkg.Poll("UpgradeOrderNotAlive naming "+name, 30*time.Second, func() error {
		ev, _ := kube.Kubectl("get", "events", "--field-selector", "reason=UpgradeOrderNotAlive,type=Warning", "--no-headers",
			"-o", "custom-columns=POD:.involvedObject.name,MSG:.message")
		for _, line := range strings.Split(ev, "\n") {
			if strings.HasPrefix(line, "doris-fe-") && strings.Contains(line, want) {
				t.Logf("UpgradeOrderNotAlive: %s", line)
				return nil
			}
		}
		return fmt.Errorf("no FE pod's Event names %q among:\n%s", want, ev)
	}); err != nil {
		t.Fatal(err)
	}
}

// dropDeadBackend removes the row of a dead BE that holds no tablet
// (ALTER SYSTEM DROPP: nothing here drops a BE holding tablets).
func dropDeadBackend(t *testing.T, name, hostPort string) {
	t.Helper()
	r := beRow(query(t, "doris-fe-0", "show backends"), name)
	if r == nil || r["Alive"] != "false" || r["TabletNum"] != "0" {
		t.Fatalf("%s: %v: want dead with TabletNum 0 before DROPP", name, r)
	}
	query(t, "doris-fe-0", `ALTER SYSTEM DROPP BACKEND "`+hostPort+`"`)
	waitRows(t, "show backends", name+" dropped", time.Minute, func(rows []map[string]string) bool { return beRow(rows, name) == nil })
}

// Walk 6. The upgrade as the page prescribes, through kubectl exec: check,
// begin (flags on), BE then CN then FE rolled one pod at a time, the flags
// kept on through the FE master's restart, status, end (flags off). Before
// the FE roll a BE on the old line dies (issue 22): the FEs do not wait for
// it (no UpgradeOrder; Warning UpgradeOrderNotAlive names it), and its row
// (no tablets) is dropped before end, which wants every node alive. Then
// both images changed at once: the FE waits for the BEs. SHOW FRONTENDS /
// SHOW BACKENDS report the new versions.
func TestWalkUpgrade(t *testing.T) {
	logsOnFailureSts(t, "doris-fe", 3)
	logsOnFailureSts(t, "doris-be", 3)
	out, rc := execIn(t, "doris-be-0", "doris-entrypoint", "upgrade", "check", "--to", kubepkg.NextVersion)
	t.Logf("upgrade check (rc %d):\n%s", rc, out)
	if rc != 1 || !strings.Contains(out, "single-replica") {
		t.Fatalf("upgrade check with single-replica data: rc %d, want 1 and the partitions named", rc)
	}
	if out, rc := execIn(t, "doris-fe-0", "doris-entrypoint", "upgrade", "begin", "--to", kubepkg.NextVersion, "--force"); rc != 0 {
		t.Fatalf("upgrade begin --force: rc %d\n%s", rc, out)
	}
	if on, got := flagsOn(t); !on {
		t.Fatalf("after begin: %s", got)
	}
	setImage(t, "doris-be", "be", kubepkg.NextTag)
	waitRollout(t, "doris-be")
	waitRows(t, "show backends", "BEs on "+kubepkg.NextVersion, 2*time.Minute, onVersion("doris-be-", kubepkg.NextVersion, 3))
	setImage(t, "doris-cn", "cn", kubepkg.NextTag)
	waitRollout(t, "doris-cn")
	waitRows(t, "show backends", "the alive CNs on "+kubepkg.NextVersion, 2*time.Minute, aliveOn("doris-cn-", kubepkg.NextVersion))
	// A BE that reports the old line and is dead: the FEs start without
	// waiting for it (DORIS_ENTRYPOINT_UPGRADE_WAIT, 240 s each) and name it.
	const oldBE = "be-old"
	oldHostPort := deadOldBackend(t, oldBE)
	masterBefore := feMaster(query(t, "doris-fe-0", "show frontends"))
	setImage(t, "doris-fe", "fe", kubepkg.NextTag)
	waitRollout(t, "doris-fe")
	rows := waitRows(t, "show frontends", "FEs on "+kubepkg.NextVersion, 2*time.Minute, onVersion("doris-fe-", kubepkg.NextVersion, 3))
	waitNotAliveEvent(t, oldBE)
	if ev, _ := kube.Kubectl("get", "events", "--field-selector", "reason=UpgradeOrder", "--no-headers", "-o", "custom-columns=POD:.involvedObject.name,MSG:.message"); strings.TrimSpace(ev) != "" {
		t.Fatalf("an FE waited in the roll (every alive BE/CN was on %s, %s dead on %s):\n%s", kubepkg.NextVersion, oldBE, fakedoris.DefaultVersion, ev)
	}
	t.Logf("master %s before the FE roll, %s after", masterBefore, feMaster(rows))
	if err := kubepkg.Poll("the flags on the master after the FE roll", time.Minute, func() error {
		if on, got := flagsOn(t); !on {
			return fmt.Errorf("%s", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	status, _ := execIn(t, "doris-fe-1", "doris-entrypoint", "upgrade", "status")
	t.Logf("upgrade status:\n%s", status)
	dropDeadBackend(t, oldBE, oldHostPort) // upgrade end wants every node alive
	if out, rc := execIn(t, "doris-fe-0", "doris-entrypoint", "upgrade", "end"); rc != 0 {
		t.Fatalf("upgrade end: rc %d\n%s", rc, out)
	}
	if on, got := flagsOn(t); on || strings.Contains(got, "=true") {
		t.Fatalf("after end: %s", got)
	}

	// Both images at once: the FEs wait for the BEs (Warning UpgradeOrder).
	if out, rc := execIn(t, "doris-fe-0", "doris-entrypoint", "upgrade", "begin", "--to", kubepkg.LastVersion, "--force"); rc != 0 {
		t.Fatalf("upgrade begin: rc %d\n%s", rc, out)
	}
	setImage(t, "doris-fe", "fe", kubepkg.LastTag)
	setImage(t, "doris-be", "be", kubepkg.LastTag)
	setImage(t, "doris-cn", "cn", kubepkg.LastTag)
	waitRollout(t, "doris-be")
	waitRollout(t, "doris-cn")
	waitRollout(t, "doris-fe")
	waitRows(t, "show backends", "BEs on "+kubepkg.LastVersion, 2*time.Minute, onVersion("doris-be-", kubepkg.LastVersion, 3))
	waitRows(t, "show frontends", "FEs on "+kubepkg.LastVersion, 2*time.Minute, onVersion("doris-fe-", kubepkg.LastVersion, 3))
	events, _ := kube.Kubectl("get", "events", "--field-selector", "reason=UpgradeOrder", "-o", "custom-columns=POD:.involvedObject.name,MSG:.message")
	// doris-fe-2 rolls first, while the BEs still roll: it waits, even
	// though it was the master (the others elect while it restarts).
	if !strings.Contains(events, "doris-fe-2 ") || !strings.Contains(events, "waits") {
		t.Fatalf("no UpgradeOrder Warning on doris-fe-2:\n%s", events)
	}
	t.Logf("UpgradeOrder events:\n%s", events)
	if out, rc := execIn(t, "doris-fe-0", "doris-entrypoint", "upgrade", "end"); rc != 0 {
		t.Fatalf("upgrade end: rc %d\n%s", rc, out)
	}
}

// After the walk: the guard dropped nothing (no packet even tried to
// leave the machine).
func TestWalkNothingLeft(t *testing.T) {
	n, err := kubepkg.Drops()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		out, _ := exec.Command("iptables", "-L", kubepkg.GuardChain, "-v", "-x", "-n").CombinedOutput()
		t.Fatalf("the guard dropped %d packets:\n%s", n, out)
	}
}
