//go:build e2e

package e2e_test

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	kubepkg "github.com/apache/doris-entrypoint/test/e2e/kube"
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
	if err != nil || strings.Count(out, "doris-fe-") != 3 {
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
	events, _ := kube.Kubectl("get", "events", "--field-selector", "involvedObject.name=doris-be-2", "-o", "custom-columns=REASON:.reason,MSG:.message")
	t.Logf("events of doris-be-2:\n%s", events)

	// 5→3: both surplus pods go at once (Parallel), and decommission at once.
	scaleTo(t, "doris-be", 5)
	waitReady(t, 3*time.Minute, pods("doris-be", 2, 5)...)
	waitRows(t, "show backends", "5 BEs alive", time.Minute, allAlive("doris-be-", 5))
	scaleTo(t, "doris-be", 3)
	waitGone(t, 3*time.Minute, "doris-be-3", "doris-be-4")
	waitRows(t, "show backends", "3 BEs, every tablet kept", time.Minute, func(rows []map[string]string) bool {
		return len(rows) == 3 && allAlive("doris-be-", 3)(rows) && tabletSum(rows, "doris-be-") == buckets
	})
}

// Walk 5. CN scale-in 2→1: no dead entry. FE observer scale-in: dropped.
func TestWalkCNAndObserverScaleIn(t *testing.T) {
	logsOnFailureSts(t, "doris-cn", 2)
	applyWorkload(t, kubepkg.Workload{Comp: "cn", Replicas: 2})
	waitReady(t, 3*time.Minute, pods("doris-cn", 0, 2)...)
	waitRows(t, "show backends", "2 CNs alive", time.Minute, allAlive("doris-cn-", 2))
	scaleTo(t, "doris-cn", 1)
	waitGone(t, 3*time.Minute, "doris-cn-1")
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
	waitRows(t, "show frontends", "doris-fe-3 dropped", time.Minute, func(rows []map[string]string) bool {
		return len(rows) == 3 && allAlive("doris-fe-", 3)(rows)
	})
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
