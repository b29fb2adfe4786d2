//go:build e2e

package e2e_test

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

// cluster is a single-node Kubernetes on this machine: etcd, kube-apiserver,
// containerd and kubelet started from this process, in a work directory,
// torn down by stop.
type cluster struct {
	dir, bin   string // work directory; kube binaries
	nodeIP     string
	kubeconfig string
	procs      []*exec.Cmd
	sysctls    map[string]string // values to restore
	logs       *os.File
	hc         *http.Client
}

// Hard-coded paths kubelet and containerd write outside the work dir.
var hardPaths = []string{"/var/lib/kubelet/device-plugins", "/var/log/containers", "/var/log/pods", "/run/containerd-e2e"}

// sysctls the kubelet changes.
var kubeletSysctls = []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"}

const (
	apiPort    = "6443"
	nodeName   = "e2e-node"
	sandboxTag = "localhost/e2e-pause:1"
	ctrdSock   = "/run/containerd-e2e/containerd.sock"
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

// startCluster brings the cluster up; on error what started is stopped.
func startCluster(bin, dir string) (c *cluster, err error) {
	c = &cluster{dir: dir, bin: bin, sysctls: map[string]string{}}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if c.nodeIP, err = nodeAddress(); err != nil {
		return c, err
	}
	for _, s := range kubeletSysctls {
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
	if err := c.startContainerd(); err != nil {
		return c, err
	}
	if err := c.startKubelet(); err != nil {
		return c, err
	}
	return c, c.bootstrapObjects()
}

// daemon starts a long-running process whose output goes to daemons.log.
func (c *cluster) daemon(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// stop stops the daemons (last started first), removes the hard-coded paths
// and restores the sysctls.
func (c *cluster) stop() {
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
	killShims() // any started meanwhile
	unmountUnder("/run/containerd-e2e", c.dir)
	for _, p := range hardPaths {
		os.RemoveAll(p)
	}
	for s, v := range c.sysctls {
		os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
	}
	if c.logs != nil {
		c.logs.Close()
	}
}

// adminClient is an HTTPS client with the admin certificate.
func (c *cluster) adminClient() (*http.Client, error) {
	if c.hc != nil {
		return c.hc, nil
	}
	cert, err := tls.LoadX509KeyPair(c.path("admin.crt"), c.path("admin.key"))
	if err != nil {
		return nil, err
	}
	ca := x509.NewCertPool()
	pemCA, _ := os.ReadFile(c.path("ca.crt"))
	ca.AppendCertsFromPEM(pemCA)
	c.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca, Certificates: []tls.Certificate{cert}}}}
	return c.hc, nil
}

// api sends one request to the API server as the admin.
func (c *cluster) api(method, path string, body []byte) (int, []byte, error) {
	hc, err := c.adminClient()
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, "https://127.0.0.1:"+apiPort+path, bytes.NewReader(body))
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
func (c *cluster) waitHTTP(url string, d time.Duration) error {
	hc, err := c.adminClient()
	if err != nil {
		return err
	}
	return poll(url+" ready", d, func() error { return getOK(hc, url) })
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

// poll retries try until it succeeds or d passes; the daemons are
// started from TestMain, where there is no *testing.T to fail.
func poll(what string, d time.Duration, try func() error) error {
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

func (c *cluster) path(name string) string { return filepath.Join(c.dir, name) }

func (c *cluster) startEtcd() error {
	if err := c.daemon("etcd", "--data-dir", c.path("etcd"), "--listen-client-urls", "http://127.0.0.1:23790",
		"--advertise-client-urls", "http://127.0.0.1:23790", "--listen-peer-urls", "http://127.0.0.1:23800",
		"--initial-advertise-peer-urls", "http://127.0.0.1:23800", "--initial-cluster", "default=http://127.0.0.1:23800"); err != nil {
		return err
	}
	return poll("etcd up", 30*time.Second, func() error { return getOK(http.DefaultClient, "http://127.0.0.1:23790/health") })
}

func (c *cluster) startAPIServer() error {
	err := c.daemon(filepath.Join(c.bin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:23790",
		"--bind-address", "0.0.0.0", "--secure-port", apiPort, "--advertise-address", c.nodeIP,
		"--tls-cert-file", c.path("apiserver.crt"), "--tls-private-key-file", c.path("apiserver.key"),
		"--client-ca-file", c.path("ca.crt"),
		"--kubelet-client-certificate", c.path("admin.crt"), "--kubelet-client-key", c.path("admin.key"),
		"--kubelet-certificate-authority", c.path("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", c.path("sa.pub"),
		"--service-account-signing-key-file", c.path("sa.key"), "--api-audiences", "https://kubernetes.default.svc",
		"--authorization-mode", "Node,RBAC", "--service-cluster-ip-range", "10.96.0.0/24",
		"--endpoint-reconciler-type", "none", "--enable-admission-plugins", "NodeRestriction",
		"--kubelet-preferred-address-types", "InternalIP",
		"--cert-dir", c.path("apiserver-certs"))
	if err != nil {
		return err
	}
	return c.waitHTTP("https://127.0.0.1:"+apiPort+"/readyz", 60*time.Second)
}

func (c *cluster) startContainerd() error {
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
`, c.path("containerd"), ctrdSock, sandboxTag, c.path("cni"))
	if err := os.MkdirAll(c.path("cni"), 0o755); err != nil {
		return err
	}
	cni := `{"cniVersion": "0.4.0", "name": "e2e-loopback", "plugins": [{"type": "loopback"}]}`
	if err := os.WriteFile(c.path("cni/10-loopback.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(c.path("containerd.toml"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := c.daemon("containerd", "--config", c.path("containerd.toml")); err != nil {
		return err
	}
	return poll("containerd up", 30*time.Second, func() error { return exec.Command("ctr", "--address", ctrdSock, "version").Run() })
}

// importImage loads a docker-archive tarball into containerd's k8s.io namespace.
func (c *cluster) importImage(tarball string) error {
	out, err := exec.Command("ctr", "--address", ctrdSock, "-n", "k8s.io", "images", "import", "--all-platforms", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr import %s: %v\n%s", tarball, err, out)
	}
	return nil
}

func (c *cluster) startKubelet() error {
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
`, c.path("ca.crt"), ctrdSock, c.path("kubelet.crt"), c.path("kubelet.key"), c.path("volume-plugins"))
	if err := os.WriteFile(c.path("kubelet.yaml"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := c.daemon(filepath.Join(c.bin, "kubelet"), "--config", c.path("kubelet.yaml"), "--kubeconfig", c.path("kubelet.kubeconfig"),
		"--hostname-override", nodeName, "--node-ip", c.nodeIP, "--root-dir", c.path("kubelet"), "--cert-dir", c.path("kubelet-certs"),
		"--v", "1"); err != nil {
		return err
	}
	return poll("node Ready (see "+c.path("daemons.log")+")", 90*time.Second, func() error {
		out, _ := c.kubectl("get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		if out != "True" {
			return fmt.Errorf("node Ready condition %q", out)
		}
		return nil
	})
}

// kubectl runs kubectl as the admin and returns its trimmed output.
func (c *cluster) kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// kubectlIn feeds stdin to kubectl (apply -f -).
func (c *cluster) kubectlIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// bootstrapObjects creates what kube-controller-manager would: the default
// ServiceAccount and the kube-root-ca.crt ConfigMap of the test namespace.
func (c *cluster) bootstrapObjects() error {
	ca, err := os.ReadFile(c.path("ca.crt"))
	if err != nil {
		return err
	}
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(string(ca)), "\n", "\n    ")
	objs := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: doris}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: doris}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: doris}
data:
  ca.crt: |
%s
`, indented)
	if out, err := c.kubectlIn(objs, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("bootstrap objects: %v\n%s", err, out)
	}
	return nil
}

// certs writes a CA, the apiserver's serving cert, the kubelet's serving
// cert, an admin client cert (system:masters), the service-account key pair
// and the kubeconfigs.
func (c *cluster) certs() error {
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
	if err := writePEM(c.path("ca.crt"), "CERTIFICATE", caDER); err != nil {
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
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(c.nodeIP), net.ParseIP("10.96.0.1")}
			tmpl.DNSNames = []string{"localhost", nodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
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
		if err := writePEM(c.path(name+".crt"), "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(c.path(name+".key"), "EC PRIVATE KEY", kb)
	}
	if err := issue("apiserver", "kube-apiserver", nil, true); err != nil {
		return err
	}
	if err := issue("kubelet", nodeName, nil, true); err != nil {
		return err
	}
	if err := issue("admin", "e2e-admin", []string{"system:masters"}, false); err != nil {
		return err
	}
	if err := issue("kubelet-client", "system:node:"+nodeName, []string{"system:nodes"}, false); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kb, _ := x509.MarshalECPrivateKey(saKey)
	pub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err := writePEM(c.path("sa.key"), "EC PRIVATE KEY", kb); err != nil {
		return err
	}
	if err := writePEM(c.path("sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	kubeconfig := func(file, user string) error {
		return os.WriteFile(c.path(file), []byte(fmt.Sprintf(`apiVersion: v1
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
`, apiPort, c.path("ca.crt"), c.path(user+".crt"), c.path(user+".key"))), 0o600)
	}
	if err := kubeconfig("admin.kubeconfig", "admin"); err != nil {
		return err
	}
	c.kubeconfig = c.path("admin.kubeconfig")
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
