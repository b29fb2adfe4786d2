// Package kube is a single-node Kubernetes on this machine for the e2e
// tests and for trying the images by hand (make e2e-up): etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
// kubelet, kube-proxy and CoreDNS, started from one process in a work
// directory, with a pod network that cannot reach off the machine
// (network.go), torn down exactly by Stop.
//
// The binaries come from build-kube.sh and build-coredns.sh (Go module
// proxy); etcd, containerd, runc, the CNI plugins and iptables from Debian.
package kube

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running single-node Kubernetes.
type Cluster struct {
	Dir        string // work directory (certificates, data, logs, PV roots)
	Bin        string // the kube binaries
	CoreDNS    string // the CoreDNS binary
	NodeIP     string // the kubelet's node address (this machine's own)
	Kubeconfig string // an admin (system:masters) kubeconfig

	procs   []*exec.Cmd
	sysctls map[string]string // values to restore
	logs    *os.File
	hc      *http.Client
	net     *network
}

// Hard-coded paths kubelet and containerd write outside the work dir.
var hardPaths = []string{"/var/lib/kubelet/device-plugins", "/var/log/containers", "/var/log/pods", "/run/containerd-e2e"}

// sysctls the kubelet and kube-proxy change, and the bridge netfilter
// switch the pod network needs: restored by Stop.
var savedSysctls = []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops",
	"net/bridge/bridge-nf-call-iptables", "net/ipv4/conf/all/route_localnet",
	"net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait"}

// The cluster's fixed names and addresses.
const (
	APIPort       = "6443"
	NodeName      = "e2e-node"
	SandboxTag    = "localhost/e2e-pause:1"
	ctrdSock      = "/run/containerd-e2e/containerd.sock"
	ClusterDomain = "cluster.local"
	Namespace     = "doris"
)

func nodeAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
			return ip.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no non-loopback IPv4 address for the node")
}

// Start brings the cluster up in dir with the kube binaries in bin and the
// CoreDNS binary coredns; on error what started is stopped (its log is
// dir/daemons.log). The order: certificates, etcd, apiserver, the pod
// network's bridge and guard (before any pod), containerd, kubelet,
// kube-proxy, CoreDNS, controller-manager, scheduler, then the objects a
// cluster starts with (namespace, PersistentVolumes).
func Start(bin, coredns, dir string) (c *Cluster, err error) {
	c = &Cluster{Dir: dir, Bin: bin, CoreDNS: coredns, sysctls: map[string]string{}}
	sweepStale(bin, dir)
	if err := os.WriteFile(filepath.Join(dir, workMarker), nil, 0o644); err != nil {
		return c, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.NodeIP, err = nodeAddress(); err != nil {
		return c, err
	}
	for _, s := range savedSysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil {
			c.sysctls[s] = strings.TrimSpace(string(b))
		}
	}
	if c.logs, err = os.Create(filepath.Join(dir, "daemons.log")); err != nil {
		return c, err
	}
	if err := c.certs(); err != nil {
		return c, fmt.Errorf("certificates: %w", err)
	}
	if err := c.startEtcd(); err != nil {
		return c, err
	}
	if err := c.startAPIServer(); err != nil {
		return c, err
	}
	if c.net, err = startNetwork(dir); err != nil {
		return c, fmt.Errorf("pod network: %w", err)
	}
	if err := c.startContainerd(); err != nil {
		return c, err
	}
	if err := c.startKubelet(); err != nil {
		return c, err
	}
	if err := c.startKubeProxy(); err != nil {
		return c, err
	}
	if err := c.startCoreDNS(); err != nil {
		return c, err
	}
	if err := c.startControllers(); err != nil {
		return c, err
	}
	return c, c.bootstrapObjects()
}

// daemon starts a long-running process whose output goes to daemons.log.
func (c *Cluster) daemon(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// Stop deletes the pods (so that the CNI plugins release their addresses
// and network namespaces), stops the daemons (last started first), removes
// kube-proxy's rules, the pod network, the hard-coded paths and every mount
// below the work directory, and restores the sysctls.
func (c *Cluster) Stop() {
	if c.Kubeconfig != "" && len(c.procs) > 0 {
		c.deleteAllPods()
	}
	// The containers outlive containerd (its shims daemonise): kill every
	// shim of this containerd and everything below it first.
	killShims()
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	c.procs = nil
	if c.net != nil {
		c.net.stop()
	}
	cleanMachine(c.Bin, c.Dir) // the shims started meanwhile too
	for s, v := range c.sysctls {
		os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
	}
	if c.logs != nil {
		c.logs.Close()
	}
}

// workMarker marks a cluster's work directory, so that a later run finds
// what a killed one left mounted.
const workMarker = ".doris-e2e-cluster"

// sweepStale undoes what a run killed before its teardown left behind
// (its daemons died with it, Pdeathsig): the containers, kube-proxy's and
// the kubelet's chains, the pod network (startNetwork sweeps it too), the
// mounts below /run/containerd-e2e and below any other work directory,
// the sandboxes' network namespaces and the hard-coded paths. Nothing of a running cluster is touched: one
// answering on APIPort makes Start fail later, at the apiserver.
func sweepStale(bin, current string) {
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+APIPort, time.Second); err == nil {
		conn.Close()
		return
	}
	b, _ := os.ReadFile("/proc/mounts")
	stale := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for d := filepath.Dir(f[1]); d != "/" && d != "."; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, workMarker)); err == nil && d != current {
				stale[d] = true
				break
			}
		}
	}
	var dirs []string
	for d := range stale {
		dirs = append(dirs, d)
	}
	cleanMachine(bin, dirs...)
	// No containerd but this harness's runs the CRI on this machine: every
	// cni-* namespace left is a killed run's.
	removeNetns(func(string) bool { return true })
}

// cleanMachine is what Stop and sweepStale both undo outside the daemons:
// the containers (their shims daemonise), kube-proxy's and the kubelet's
// chains, every mount below /run/containerd-e2e and dirs, and the
// hard-coded paths.
func cleanMachine(bin string, dirs ...string) {
	killShims()
	if _, err := os.Stat(filepath.Join(bin, "kube-proxy")); err == nil {
		exec.Command(filepath.Join(bin, "kube-proxy"), "--cleanup").Run()
	}
	removeKubeChains()
	unmountUnder(append([]string{"/run/containerd-e2e"}, dirs...)...)
	for _, p := range hardPaths {
		os.RemoveAll(p)
	}
}

// AdminClient is an HTTPS client with the admin certificate.
func (c *Cluster) AdminClient() (*http.Client, error) {
	if c.hc != nil {
		return c.hc, nil
	}
	cert, err := tls.LoadX509KeyPair(c.Path("admin.crt"), c.Path("admin.key"))
	if err != nil {
		return nil, err
	}
	ca := x509.NewCertPool()
	pemCA, _ := os.ReadFile(c.Path("ca.crt"))
	ca.AppendCertsFromPEM(pemCA)
	c.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca, Certificates: []tls.Certificate{cert}}}}
	return c.hc, nil
}

// API sends one request to the API server as the admin.
func (c *Cluster) API(method, path string, body []byte) (int, []byte, error) {
	hc, err := c.AdminClient()
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, "https://127.0.0.1:"+APIPort+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitHTTP waits until url answers 200 with the admin client.
func (c *Cluster) waitHTTP(url string, d time.Duration) error {
	hc, err := c.AdminClient()
	if err != nil {
		return err
	}
	return Poll(url+" ready", d, func() error { return getOK(hc, url) })
}

// getOK GETs url and wants 200.
func getOK(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Poll retries try every 100 ms until it succeeds or d passes.
func Poll(what string, d time.Duration, try func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := try()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s: %w", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) Path(name string) string { return filepath.Join(c.Dir, name) }

func (c *Cluster) startEtcd() error {
	if err := c.daemon("etcd", "--data-dir", c.Path("etcd"), "--listen-client-urls", "http://127.0.0.1:23790",
		"--advertise-client-urls", "http://127.0.0.1:23790", "--listen-peer-urls", "http://127.0.0.1:23800",
		"--initial-advertise-peer-urls", "http://127.0.0.1:23800", "--initial-cluster", "default=http://127.0.0.1:23800"); err != nil {
		return err
	}
	return Poll("etcd up", 30*time.Second, func() error { return getOK(http.DefaultClient, "http://127.0.0.1:23790/health") })
}

func (c *Cluster) startAPIServer() error {
	err := c.daemon(filepath.Join(c.Bin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:23790",
		"--bind-address", "0.0.0.0", "--secure-port", APIPort, "--advertise-address", c.NodeIP,
		"--tls-cert-file", c.Path("apiserver.crt"), "--tls-private-key-file", c.Path("apiserver.key"),
		"--client-ca-file", c.Path("ca.crt"),
		"--kubelet-client-certificate", c.Path("admin.crt"), "--kubelet-client-key", c.Path("admin.key"),
		"--kubelet-certificate-authority", c.Path("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", c.Path("sa.pub"),
		"--service-account-signing-key-file", c.Path("sa.key"), "--api-audiences", "https://kubernetes.default.svc",
		"--authorization-mode", "Node,RBAC", "--service-cluster-ip-range", "10.96.0.0/24",
		// The lease reconciler writes this apiserver (NodeIP:6443) into the
		// kubernetes Service's endpoints: pods reach it at 10.96.0.1:443
		// through kube-proxy's rules, delivered locally.
		"--endpoint-reconciler-type", "lease", "--enable-admission-plugins", "NodeRestriction",
		"--kubelet-preferred-address-types", "InternalIP",
		"--cert-dir", c.Path("apiserver-certs"))
	if err != nil {
		return err
	}
	return c.waitHTTP("https://127.0.0.1:"+APIPort+"/readyz", 60*time.Second)
}

func (c *Cluster) startContainerd() error {
	conf := fmt.Sprintf(`version = 2
root = %q
state = "/run/containerd-e2e"
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, c.Path("containerd"), ctrdSock, SandboxTag, c.Path("cni"))
	if err := os.MkdirAll(c.Path("cni"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.Path("cni/10-e2e-pods.conflist"), []byte(c.net.conflist()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(c.Path("containerd.toml"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := c.daemon("containerd", "--config", c.Path("containerd.toml")); err != nil {
		return err
	}
	return Poll("containerd up", 30*time.Second, func() error { return exec.Command("ctr", "--address", ctrdSock, "version").Run() })
}

// ImportImage loads a docker-archive tarball into containerd's k8s.io namespace.
func (c *Cluster) ImportImage(tarball string) error {
	out, err := exec.Command("ctr", "--address", ctrdSock, "-n", "k8s.io", "images", "import", "--all-platforms", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr import %s: %v\n%s", tarball, err, out)
	}
	return nil
}

func (c *Cluster) startKubelet() error {
	conf := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509: {clientCAFile: %q}
  webhook: {enabled: false}
  anonymous: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://%s
tlsCertFile: %q
tlsPrivateKeyFile: %q
volumePluginDir: %q
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
syncFrequency: 10s
enforceNodeAllocatable: []
cgroupsPerQOS: false
localStorageCapacityIsolation: false
clusterDNS: [%q]
clusterDomain: %s
resolvConf: %q
`, c.Path("ca.crt"), ctrdSock, c.Path("kubelet.crt"), c.Path("kubelet.key"), c.Path("volume-plugins"),
		BridgeIP, ClusterDomain, c.Path("resolv.conf"))
	// The pods' resolv.conf: CoreDNS alone, and none of this machine's
	// search domains (the kubelet appends those of resolvConf).
	if err := os.WriteFile(c.Path("resolv.conf"), []byte("nameserver "+BridgeIP+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(c.Path("kubelet.yaml"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := c.daemon(filepath.Join(c.Bin, "kubelet"), "--config", c.Path("kubelet.yaml"), "--kubeconfig", c.Path("kubelet.kubeconfig"),
		"--hostname-override", NodeName, "--node-ip", c.NodeIP, "--root-dir", c.Path("kubelet"), "--cert-dir", c.Path("kubelet-certs"),
		"--v", "1"); err != nil {
		return err
	}
	return Poll("node Ready (see "+c.Path("daemons.log")+")", 90*time.Second, func() error {
		out, _ := c.Kubectl("get", "node", NodeName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		if out != "True" {
			return fmt.Errorf("node Ready condition %q", out)
		}
		return nil
	})
}

// Kubectl runs kubectl as the admin and returns its trimmed output.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// KubectlIn feeds stdin to kubectl (apply -f -).
func (c *Cluster) KubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// bootstrapObjects creates the test namespace, once the controller-manager
// has made its default ServiceAccount and kube-root-ca.crt ConfigMap, and
// the PersistentVolumes (persistentVolumes of the BE spec become
// volumeClaimTemplates): hostPath roots below the work directory, with
// Retain, so that a retained PVC and a scale back out are real.
func (c *Cluster) bootstrapObjects() error {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", Namespace)
	fmt.Fprintf(&b, `---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: %s}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
`, StorageClass)
	for i := 0; i < PersistentVolumes; i++ {
		dir := c.Path(fmt.Sprintf("pv/%02d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-pv-%02d}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: %s
  hostPath: {path: %q, type: Directory}
`, i, StorageClass, dir)
	}
	if out, err := c.KubectlIn(b.String(), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("bootstrap objects: %v\n%s", err, out)
	}
	return Poll("the controller-manager's ServiceAccount and root CA in "+Namespace, 60*time.Second, func() error {
		if out, err := c.Kubectl("-n", Namespace, "get", "serviceaccount/default", "configmap/kube-root-ca.crt", "-o", "name"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

// The PersistentVolumes the cluster starts with, and their class.
const (
	PersistentVolumes = 12
	StorageClass      = "e2e-local"
)

// startKubeProxy runs kube-proxy in iptables mode for the Service VIPs,
// leaving the conntrack sysctls alone and no NodePort on localhost (no
// route_localnet).
func (c *Cluster) startKubeProxy() error {
	if err := c.daemon(filepath.Join(c.Bin, "kube-proxy"), "--kubeconfig", c.Kubeconfig, "--hostname-override", NodeName,
		"--proxy-mode", "iptables", "--cluster-cidr", PodCIDR, "--conntrack-max-per-core", "0",
		"--conntrack-tcp-timeout-established", "0", "--conntrack-tcp-timeout-close-wait", "0",
		"--iptables-localhost-nodeports=false", "--nodeport-addresses", "primary",
		"--metrics-bind-address", "127.0.0.1:10249", "--healthz-bind-address", "127.0.0.1:10256", "--v", "1"); err != nil {
		return err
	}
	return Poll("kube-proxy healthz", 60*time.Second, func() error { return getOK(http.DefaultClient, "http://127.0.0.1:10256/healthz") })
}

// startCoreDNS serves cluster.local (and the reverse zones of the pod and
// service ranges) on the bridge address from the API, and nothing else: no
// forward plugin is even built in (build-coredns.sh).
func (c *Cluster) startCoreDNS() error {
	corefile := fmt.Sprintf(`%[1]s:53 10.in-addr.arpa:53 {
    bind %[2]s
    errors
    health 127.0.0.1:10254
    ready 127.0.0.1:10253
    kubernetes %[1]s 10.in-addr.arpa {
        kubeconfig %[3]s e2e
        pods insecure
    }
    cache 2
}
`, ClusterDomain, BridgeIP, c.Kubeconfig)
	if err := os.WriteFile(c.Path("Corefile"), []byte(corefile), 0o644); err != nil {
		return err
	}
	if err := c.daemon(c.CoreDNS, "-conf", c.Path("Corefile")); err != nil {
		return err
	}
	return Poll("CoreDNS ready", 60*time.Second, func() error { return getOK(http.DefaultClient, "http://127.0.0.1:10253/ready") })
}

// startControllers runs kube-controller-manager (StatefulSets, endpoints,
// the garbage collector, the PV binder, ServiceAccounts and their tokens,
// the root CA ConfigMap) and kube-scheduler, both as the admin and without
// leader election.
func (c *Cluster) startControllers() error {
	if err := c.daemon(filepath.Join(c.Bin, "kube-controller-manager"), "--kubeconfig", c.Kubeconfig,
		"--authentication-kubeconfig", c.Kubeconfig, "--authorization-kubeconfig", c.Kubeconfig,
		"--service-account-private-key-file", c.Path("sa.key"), "--root-ca-file", c.Path("ca.crt"),
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "10257", "--cert-dir", c.Path("kcm-certs"),
		"--controllers", "*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route", "--concurrent-statefulset-syncs", "5",
		"--v", "1"); err != nil {
		return err
	}
	if err := c.daemon(filepath.Join(c.Bin, "kube-scheduler"), "--kubeconfig", c.Kubeconfig,
		"--authentication-kubeconfig", c.Kubeconfig, "--authorization-kubeconfig", c.Kubeconfig,
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "10259", "--cert-dir", c.Path("sched-certs"),
		"--v", "1"); err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, port := range []string{"10257", "10259"} {
		if err := Poll("https://127.0.0.1:"+port+"/healthz", 90*time.Second, func() error { return getOK(hc, "https://127.0.0.1:"+port+"/healthz") }); err != nil {
			return err
		}
	}
	return nil
}

// deleteAllPods deletes every pod of the test namespace and waits (bounded)
// until they are gone, so that the kubelet tears their sandboxes down
// through the CNI plugins.
func (c *Cluster) deleteAllPods() {
	c.Kubectl("-n", Namespace, "delete", "statefulsets", "--all", "--cascade=orphan", "--timeout=30s")
	c.Kubectl("-n", Namespace, "delete", "pods", "--all", "--grace-period=1", "--wait=true", "--timeout=90s")
}

// certs writes a CA, the apiserver's serving cert, the kubelet's serving
// cert, an admin client cert (system:masters), the service-account key pair
// and the kubeconfigs.
func (c *Cluster) certs() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePEM(c.Path("ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	serial := int64(2)
	issue := func(name, cn string, orgs []string, server bool) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: orgs},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
		serial++
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(c.NodeIP), net.ParseIP("10.96.0.1")}
			tmpl.DNSNames = []string{"localhost", NodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc." + ClusterDomain}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(c.Path(name+".crt"), "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(c.Path(name+".key"), "EC PRIVATE KEY", kb)
	}
	if err := issue("apiserver", "kube-apiserver", nil, true); err != nil {
		return err
	}
	if err := issue("kubelet", NodeName, nil, true); err != nil {
		return err
	}
	if err := issue("admin", "e2e-admin", []string{"system:masters"}, false); err != nil {
		return err
	}
	if err := issue("kubelet-client", "system:node:"+NodeName, []string{"system:nodes"}, false); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kb, _ := x509.MarshalECPrivateKey(saKey)
	pub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err := writePEM(c.Path("sa.key"), "EC PRIVATE KEY", kb); err != nil {
		return err
	}
	if err := writePEM(c.Path("sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	kubeconfig := func(file, user string) error {
		return os.WriteFile(c.Path(file), []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:%s", certificate-authority: %q}
users:
- name: u
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: u, namespace: doris}
current-context: e2e
`, APIPort, c.Path("ca.crt"), c.Path(user+".crt"), c.Path(user+".key"))), 0o600)
	}
	if err := kubeconfig("admin.kubeconfig", "admin"); err != nil {
		return err
	}
	c.Kubeconfig = c.Path("admin.kubeconfig")
	return kubeconfig("kubelet.kubeconfig", "kubelet-client")
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// killShims SIGKILLs the containerd shims of the e2e containerd and all
// their descendants (the containers).
func killShims() {
	parent := map[int]int{}
	var shims []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(b, ')'); i > 0 {
				f := strings.Fields(string(b[i+1:]))
				if len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(b, []byte(ctrdSock)) &&
			bytes.Contains(b, []byte("containerd-shim")) {
			shims = append(shims, pid)
		}
	}
	below := func(pid, root int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid == root {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	for _, shim := range shims {
		for pid := range parent {
			if below(pid, shim) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// unmountUnder detaches every mount below the given directories, deepest
// first.
func unmountUnder(dirs ...string) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, d := range dirs {
			if f[1] == d || strings.HasPrefix(f[1], d+"/") {
				points = append(points, f[1])
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
