//go:build e2e

// Package e2e_test runs the FE and BE images on a real single-node
// Kubernetes (kube-apiserver and kubelet v1.34.4 built by build-kube.sh into
// a cache outside the repository, etcd and containerd from Debian), with
// pods that mirror the Doris Operator's: the entrypoint command, the podinfo
// downward-API volume, tcpSocket liveness/startup, httpGet readiness on
// /api/health, the preStop hooks, hostNetwork with loopback ports.
//
//	make e2e      (root; installs nothing itself: .ci/run does)
package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var (
	kube *cluster
	tag  = "e2e"
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		fail := func(format string, a ...any) int {
			fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", a...)
			return 1
		}
		for _, bin := range []string{"etcd", "containerd", "ctr", "podman", "runc"} {
			if _, err := exec.LookPath(bin); err != nil {
				return fail("%s is needed (apt-get install etcd-server containerd containernetworking-plugins podman runc busybox-static; .ci/run does)", bin)
			}
		}
		wd, _ := os.Getwd()
		repo := filepath.Join(wd, "..", "..")
		out, err := exec.Command("sh", filepath.Join(repo, "test", "e2e", "build-kube.sh")).Output()
		if err != nil {
			return fail("build-kube.sh: %v", err)
		}
		kubeBin := strings.TrimSpace(string(out))
		dir, err := os.MkdirTemp("", "e2e-")
		if err != nil {
			return fail("%v", err)
		}
		defer os.RemoveAll(dir)
		bin, err := harness.Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", harness.EntrypointLDFlags())
		if err != nil {
			return fail("%v", err)
		}
		podmanEnv := append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(repo, "images", "containers.conf"))
		build := exec.Command("sh", filepath.Join(repo, "images", "standin", "build.sh"), bin, tag)
		build.Env, build.Stdout, build.Stderr = podmanEnv, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fail("images: %v", err)
		}
		// The pod sandbox image: the stand-in base, sleeping.
		pause := exec.Command("podman", "build", "-q", "-t", sandboxTag, "-f", "-", dir)
		pause.Env, pause.Stdin = podmanEnv, strings.NewReader("FROM localhost/doris-standin:"+tag+"\nENTRYPOINT [\"/bin/sleep\", \"2147483647\"]\n")
		if out, err := pause.CombinedOutput(); err != nil {
			return fail("pause image: %v\n%s", err, out)
		}
		kube, err = startCluster(kubeBin, dir)
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "daemons.log"))
			return fail("cluster: %v\n%s", err, tail(string(log), 60))
		}
		defer kube.stop()
		for _, img := range []string{sandboxTag, "localhost/doris-entrypoint-fe:" + tag, "localhost/doris-entrypoint-be:" + tag} {
			tar := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(img)+".tar")
			save := exec.Command("podman", "save", "--format", "docker-archive", "-o", tar, img)
			save.Env = podmanEnv
			if out, err := save.CombinedOutput(); err != nil {
				return fail("podman save %s: %v\n%s", img, err, out)
			}
			if err := kube.importImage(tar); err != nil {
				return fail("%v", err)
			}
		}
		code := m.Run()
		if code != 0 {
			log, _ := os.ReadFile(filepath.Join(dir, "daemons.log"))
			fmt.Fprintf(os.Stderr, "daemons.log (tail):\n%s\n", tail(string(log), 40))
		}
		return code
	}())
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// podSpec renders a pod as the Doris Operator renders FE/BE pods
// (doris-contract.md §1, §5, §6), on the one node, host network.
func podSpec(comp, name string, env map[string]string) string {
	port, httpPort, grace := "9030", "8030", 330
	if comp == "be" {
		port, httpPort, grace = "9050", "8040", 200
	}
	fqdn := name + "." + comp + "-internal.doris.svc.cluster.local"
	envs := map[string]string{"POD_FQDN": fqdn, "FE_QUERY_PORT": "9030", "ELECT_NUMBER": "3",
		"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT": "1s", "FAKE_STOP_DELAY": "1s", "DORIS_ENTRYPOINT_KUBE": "off"}
	for k, v := range env {
		envs[k] = v
	}
	var b strings.Builder
	for k, v := range envs {
		fmt.Fprintf(&b, "    - {name: %s, value: %q}\n", k, v)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[2]s
  namespace: doris
  labels: {app.kubernetes.io/component: %[1]s}
spec:
  nodeName: %[3]s
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  terminationGracePeriodSeconds: %[4]d
  containers:
  - name: %[1]s
    image: localhost/doris-entrypoint-%[1]s:%[5]s
    imagePullPolicy: Never
    command: [/opt/apache-doris/%[1]s_entrypoint.sh]
    args: ["127.0.0.1:9030"]
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
%[6]s    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    startupProbe: {tcpSocket: {port: %[7]s}, periodSeconds: 5, failureThreshold: 72}
    livenessProbe: {tcpSocket: {port: %[7]s}, periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 180}
    readinessProbe: {httpGet: {path: /api/health, port: %[8]s}, periodSeconds: 1, failureThreshold: 1}
    lifecycle: {preStop: {exec: {command: [/opt/apache-doris/%[1]s_prestop.sh]}}}
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
`, comp, name, nodeName, grace, tag, b.String(), port, httpPort)
}

// podStatus is the part of a pod's status the tests read.
type podStatus struct {
	Status struct {
		Phase      string `json:"phase"`
		Conditions []struct {
			Type, Status string
		} `json:"conditions"`
		ContainerStatuses []struct {
			RestartCount int  `json:"restartCount"`
			Ready        bool `json:"ready"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func getPod(t *testing.T, name string) podStatus {
	t.Helper()
	out, err := kube.kubectl("get", "pod", name, "-o", "json")
	if err != nil {
		t.Fatalf("get pod %s: %v %s", name, err, out)
	}
	var p podStatus
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func ready(p podStatus) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func restarts(p podStatus) int {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

// waitPod polls the pod until cond holds.
func waitPod(t *testing.T, name, what string, d time.Duration, cond func(podStatus) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		p := getPod(t, name)
		if cond(p) {
			return time.Since(start)
		}
		if time.Since(start) > d {
			logs, _ := kube.kubectl("logs", name, "--tail", "40")
			t.Fatalf("pod %s: not %s after %s: %+v\nlogs:\n%s", name, what, d, p.Status, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createPod(t *testing.T, comp, name string, env map[string]string) {
	t.Helper()
	if out, err := kube.kubectlIn(podSpec(comp, name, env), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := kube.kubectl("logs", name, "--tail", "60")
			t.Logf("%s logs:\n%s", name, logs)
		}
		kube.kubectl("delete", "pod", name, "--grace-period", "5", "--wait=true", "--timeout", "60s")
	})
}

// 1. A 1 FE + 1 BE fake cluster comes up Ready and registered.
// 2. kubectl annotate …=debug: the pod stays Running, turns NotReady, its
// restart count unchanged, Events show the switch, kubectl exec … status
// says debug; removing the annotation: Ready again, conf identical.
func TestClusterAndDebugRoundTrip(t *testing.T) {
	createPod(t, "fe", "fe-0", nil)
	el := waitPod(t, "fe-0", "Ready", 120*time.Second, ready)
	t.Logf("fe-0 Ready after %s", el)
	createPod(t, "be", "be-0", nil)
	el = waitPod(t, "be-0", "Ready", 120*time.Second, ready)
	t.Logf("be-0 Ready after %s", el)
	if logs, _ := kube.kubectl("logs", "be-0"); !strings.Contains(logs, `"msg":"backend registered"`) {
		t.Fatalf("be-0 not registered:\n%s", logs)
	}

	orig, err := kube.kubectl("exec", "be-0", "--", "cat", "/opt/apache-doris/be/conf/be.conf")
	if err != nil {
		t.Fatal(err, orig)
	}
	before := restarts(getPod(t, "be-0"))
	if out, err := kube.kubectl("annotate", "pod", "be-0", "selectdb.com.doris/runmode=debug"); err != nil {
		t.Fatal(err, out)
	}
	el = waitPod(t, "be-0", "NotReady", 60*time.Second, func(p podStatus) bool { return !ready(p) })
	t.Logf("be-0 NotReady %s after the annotation", el)
	p := getPod(t, "be-0")
	if p.Status.Phase != "Running" || restarts(p) != before {
		t.Fatalf("in debug mode: phase %s, restarts %d (was %d)", p.Status.Phase, restarts(p), before)
	}
	out, err := kube.kubectl("exec", "be-0", "--", "doris-entrypoint", "status")
	if err != nil || !strings.Contains(out, "mode:      debug") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if out, err := kube.kubectl("annotate", "pod", "be-0", "selectdb.com.doris/runmode-"); err != nil {
		t.Fatal(err, out)
	}
	el = waitPod(t, "be-0", "Ready again", 60*time.Second, ready)
	t.Logf("be-0 Ready %s after the annotation was removed", el)
	if now, _ := kube.kubectl("exec", "be-0", "--", "cat", "/opt/apache-doris/be/conf/be.conf"); now != orig {
		t.Fatalf("conf after debug mode:\n%s\nwant\n%s", now, orig)
	}
	if restarts(getPod(t, "be-0")) != before {
		t.Fatal("the container restarted")
	}
}
