package images_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// runBroker starts the broker image as the operator's brokerSpec does: its
// command broker_entrypoint.sh with the FE address, on the network at .30.
func runBroker(t *testing.T, n *network) *ctr {
	t.Helper()
	c := &ctr{name: fmt.Sprintf("%s-broker-%d", n.name, rand.IntN(1e6)), comp: "broker", podinfo: t.TempDir()}
	c.annotate(t, nil)
	args := []string{"run", "-d", "--name", c.name, "--network", n.name, "--ip", n.prefix + "30", "--hostname", "broker-0",
		"-v", c.podinfo + ":/etc/podinfo:ro", "-p", "127.0.0.1::8099",
		"-e", "POD_FQDN=broker-0.broker-internal.test", "-e", "DORIS_ENTRYPOINT_PROBE_INTERVAL=500ms",
		"-e", "DORIS_ENTRYPOINT_STOP_TIMEOUT=15s", "-e", "FAKE_STOP_DELAY=500ms",
		"--entrypoint", "/opt/apache-doris/broker_entrypoint.sh"}
	args = append(append(args, n.hosts()...), "localhost/doris-entrypoint-broker:"+tag, "fe-0.fe-internal.test")
	mustPodman(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := podman(t, "logs", c.name)
			t.Logf("%s logs:\n%s", c.name, out)
		}
		podman(t, "rm", "-f", "-t", "0", c.name)
	})
	c.probe = mustPodman(t, "port", c.name, "8099")
	return c
}

// isAlive runs the operator's exec probe of the broker in the container.
func (c *ctr) isAlive(t *testing.T) bool {
	t.Helper()
	_, err := podman(t, "exec", c.name, "/opt/apache-doris/broker_is_alive.sh", "8000")
	return err == nil
}

func (c *ctr) brokerConf(t *testing.T) string {
	t.Helper()
	return mustPodman(t, "exec", c.name, "cat", "/opt/apache-doris/apache_hdfs_broker/conf/apache_hdfs_broker.conf")
}

// The broker image under the operator's paths: it registers with the FE
// (ALTER SYSTEM ADD BROKER) and turns ready; its exec probe
// broker_is_alive.sh 8000 passes, in debug mode too (the port held, moved
// to 18000 in the conf), the conf comes back as it was; broker_prestop.sh
// stops it gracefully: the fake JVM's cleanup ends before PID 1 exits.
func TestBrokerInContainer(t *testing.T) {
	n := newNetwork(t)
	fe := run(t, n, "fe", nil)
	fe.waitProbe(t, "/readyz", 200)
	b := runBroker(t, n)
	if body := b.waitProbe(t, "/readyz", 200); !strings.Contains(body, "membership ok") {
		t.Fatalf("broker readyz %q", body)
	}
	if logs := b.logs(t); !strings.Contains(logs, `"msg":"broker registered"`) ||
		!strings.Contains(logs, "start_broker.sh: starting broker with \n") {
		t.Fatalf("broker logs:\n%s", logs)
	}
	waitFor(t, "broker_is_alive.sh 8000 to pass", func() bool { return b.isAlive(t) })
	orig := b.brokerConf(t)

	b.annotate(t, debugAnn)
	b.waitProbe(t, "/readyz", 503)
	waitFor(t, "debug mode", func() bool { return strings.Contains(b.logs(t), "debug mode: ports moved, liveness port held") })
	if conf := b.brokerConf(t); !strings.Contains(conf, "broker_ipc_port = 18000\n") {
		t.Fatalf("conf in debug mode:\n%s", conf)
	}
	if !b.isAlive(t) {
		t.Fatal("broker_is_alive.sh fails in debug mode: kubelet would restart the pod")
	}
	b.annotate(t, nil)
	b.waitProbe(t, "/readyz", 200)
	if conf := b.brokerConf(t); conf != orig {
		t.Fatalf("conf after debug mode:\n%s\nwant\n%s", conf, orig)
	}

	out, err := podman(t, "exec", b.name, "/opt/apache-doris/broker_prestop.sh")
	mustPodman(t, "wait", b.name)
	if err != nil && !strings.Contains(out, "stopped") {
		if st := mustPodman(t, "inspect", "--format", "{{.State.Status}}", b.name); st != "exited" {
			t.Fatalf("prestop: %v %s (container %s)", err, out, st)
		}
	}
	logs := b.logs(t)
	done, exit := strings.Index(logs, "fake node: cleanup done"), strings.LastIndex(logs, `"msg":"exiting"`)
	if !strings.Contains(logs, `"reason":"prestop"`) || done < 0 || exit < done {
		t.Fatalf("not a graceful stop:\n%s", logs)
	}
	if code := b.exitCode(t); code != 143 {
		t.Fatalf("exit code %d, want 143", code)
	}
}
