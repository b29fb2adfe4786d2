package kube

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The pod network: one Linux bridge on this machine, Debian's bridge and
// host-local CNI plugins giving each pod a veth into it and an address of
// PodCIDR, no masquerade, and routes in the pods to the bridge's own subnet
// and the service range only (no default route). Service VIPs exist only as
// kube-proxy's rules on this machine; CoreDNS listens on the bridge address.
//
// "Nothing leaves the machine" holds by construction, not by luck (this VM
// has a default route via eth0 and ip_forward=1):
//
//  1. Before any pod starts, the chain GuardChain is made and jumped to
//     first from FORWARD and OUTPUT: it drops every packet from or to
//     PodCIDR or ServiceCIDR that would leave by any interface but the
//     bridge (or loopback, for OUTPUT).
//  2. The pods have no default route, so they cannot even try: a drop
//     counted by the chain is a bug (Drops; the e2e asserts 0 after the walk).
//  3. CoreDNS serves cluster.local and the reverse zones only, with no
//     forward plugin built in.
//  4. Teardown (stop): the chain, the bridge, host-local's leases, and the
//     network namespaces the CNI plugins left behind go; the bridge's
//     sysctl is restored by Cluster.Stop.
const (
	Bridge      = "e2e-br0"
	BridgeIP    = "10.244.0.1"
	PodCIDR     = "10.244.0.0/24"
	ServiceCIDR = "10.96.0.0/24"
	GuardChain  = "DORIS-E2E-GUARD"
)

type network struct {
	dir      string
	netnsOld map[string]bool // /run/netns entries before the cluster
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// startNetwork makes the bridge and the guard (steps 1 and 4's record of
// what was there before).
func startNetwork(dir string) (*network, error) {
	n := &network{dir: dir, netnsOld: netnsEntries()}
	n.stop() // a run killed before its teardown
	for _, args := range [][]string{
		{"link", "add", Bridge, "type", "bridge"},
		{"addr", "add", BridgeIP + "/24", "dev", Bridge},
		{"link", "set", Bridge, "up"},
	} {
		if err := run("ip", args...); err != nil {
			n.stop()
			return nil, err
		}
	}
	// 1. The guard.
	rules := [][]string{{"-N", GuardChain}}
	for _, cidr := range []string{PodCIDR, ServiceCIDR} {
		rules = append(rules,
			[]string{"-A", GuardChain, "-s", cidr, "!", "-o", Bridge, "-m", "comment", "--comment", "doris-e2e: nothing leaves the machine", "-j", "DROP"},
			[]string{"-A", GuardChain, "-d", cidr, "!", "-o", Bridge, "-m", "comment", "--comment", "doris-e2e: nothing leaves the machine", "-j", "DROP"})
	}
	rules = append(rules, []string{"-I", "FORWARD", "1", "-j", GuardChain},
		// Locally generated packets to a pod or VIP go out the bridge (or
		// are DNATed to a local address first); loopback is local.
		[]string{"-I", "OUTPUT", "1", "!", "-o", "lo", "-j", GuardChain})
	for _, r := range rules {
		if err := run("iptables", r...); err != nil {
			n.stop()
			return nil, err
		}
	}
	// Bridged pod-to-pod replies must pass conntrack for a Service VIP's
	// reverse NAT (kube-proxy needs it; Cluster.Stop restores the value).
	if err := os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("1"), 0o644); err != nil {
		n.stop()
		return nil, fmt.Errorf("bridge-nf-call-iptables: %w", err)
	}
	return n, nil
}

// conflist is containerd's CNI configuration (containerd adds loopback).
func (n *network) conflist() string {
	return fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "e2e-pods", "plugins": [{
  "type": "bridge", "bridge": %q, "isGateway": true, "isDefaultGateway": false, "ipMasq": false, "hairpinMode": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": %q, "gateway": %q}]], "routes": [{"dst": %q}],
           "dataDir": %q}
}]}`, Bridge, PodCIDR, BridgeIP, ServiceCIDR, filepath.Join(n.dir, "cni-ipam"))
}

// Drops is the number of packets the guard dropped (step 2).
func Drops() (int, error) {
	out, err := exec.Command("iptables", "-L", GuardChain, "-v", "-x", "-n").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("iptables -L %s: %v: %s", GuardChain, err, out)
	}
	total := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[2] == "DROP" {
			p, err := strconv.Atoi(f[0])
			if err != nil {
				return 0, fmt.Errorf("iptables counter %q: %w", f[0], err)
			}
			total += p
		}
	}
	return total, nil
}

// removeKubeChains removes the chains kube-proxy --cleanup leaves: the
// kubelet's own (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), in
// every table, IPv4 and IPv6. No other kubelet runs on this machine.
func removeKubeChains() {
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, err := exec.Command(bin, "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			var chains []string
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) >= 4 && f[0] == "-A" && (f[1] == "INPUT" || f[1] == "OUTPUT" || f[1] == "FORWARD" || f[1] == "PREROUTING" || f[1] == "POSTROUTING") &&
					f[len(f)-2] == "-j" && strings.HasPrefix(f[len(f)-1], "KUBE-"):
					run(bin, append([]string{"-t", table, "-D"}, f[1:]...)...)
				case len(f) == 2 && f[0] == "-N" && strings.HasPrefix(f[1], "KUBE-"):
					chains = append(chains, f[1])
				}
			}
			for _, c := range chains {
				run(bin, "-t", table, "-F", c)
			}
			for _, c := range chains {
				run(bin, "-t", table, "-X", c)
			}
		}
	}
}

// stop is step 4: idempotent, and quiet about what is already gone.
func (n *network) stop() {
	for run("iptables", "-D", "FORWARD", "-j", GuardChain) == nil {
	}
	for run("iptables", "-D", "OUTPUT", "!", "-o", "lo", "-j", GuardChain) == nil {
	}
	run("iptables", "-F", GuardChain)
	run("iptables", "-X", GuardChain)
	run("ip", "link", "del", Bridge)
	// Network namespaces of sandboxes whose CNI DEL never ran (a killed
	// kubelet): the CRI names them cni-<uuid>.
	removeNetns(func(name string) bool { return !n.netnsOld[name] })
	os.RemoveAll(filepath.Join(n.dir, "cni-ipam"))
}

// removeNetns removes the CRI's network namespaces (cni-<uuid>; podman's
// are netns-<uuid>) that which selects.
func removeNetns(which func(string) bool) {
	for name := range netnsEntries() {
		if strings.HasPrefix(name, "cni-") && which(name) {
			p := filepath.Join("/run/netns", name)
			syscall.Unmount(p, syscall.MNT_DETACH)
			os.Remove(p)
		}
	}
}

func netnsEntries() map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}
