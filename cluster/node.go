package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"go.uber.org/zap"
)

// RecoveryAnnotation asks an FE with metadata to start with
// --metadata_failure_recovery (any value but "false"), as
// fe_entrypoint.sh's recovery mode does.
const RecoveryAnnotation = "selectdb.com.doris/recovery"

// Node is this pod as a member of the Doris cluster: its component, how the
// cluster knows it, and the FEs to ask. Its conf is read at every call, so
// ports and the FQDN mode follow whatever a ConfigMap brought.
type Node struct {
	Component Component
	Root      string   // DORIS_ROOT
	Client    *Client  // for every FE query
	FEAddrs   []string // FE_ADDRS as host:query_port ([FEAddrs])
	// PodFQDN and PodIP are the operator's POD_FQDN and POD_IP; empty: from
	// HostsFile (/etc/hosts), as hostname -f does.
	PodFQDN, PodIP string
	HostsFile      string
	IPMode         bool   // BE/CN, broker: HOST_TYPE=IP registers POD_IP
	BrokerName     string // broker: the name it registers under; "": DefaultBrokerName
	// FE first start: followers below this ordinal (ELECT_NUMBER), and the
	// waits of [Join].
	ElectNumber                int
	NewClusterWait, MasterWait time.Duration
	// Leave, when set, is the node's part in a scale-in (leave.go).
	Leave  *Leave
	Logger *zap.Logger
}

// ConfPath is the component's conf.
func (n *Node) ConfPath() string { return filepath.Join(n.Root, n.Component.Conf) }

// conf reads the conf; a missing one means Doris's defaults.
func (n *Node) conf() ([]byte, error) {
	data, err := os.ReadFile(n.ConfPath())
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", n.ConfPath(), err)
	}
	return data, nil
}

// Port is p's value in the conf now.
func (n *Node) Port(p confpatch.Port) (int, error) {
	data, err := n.conf()
	if err != nil {
		return 0, err
	}
	return confpatch.SyntaxOf(n.ConfPath()).PortValue(data, p)
}

// Host is how the cluster knows this node (SHOW FRONTENDS/BACKENDS Host):
// its FQDN, or its IP under the component's identity rule.
func (n *Node) Host() (string, error) {
	data, err := n.conf()
	if err != nil {
		return "", err
	}
	return n.host(data)
}

// Address is how the cluster knows this node now: its host and the values
// of ports, from one read of the conf.
func (n *Node) Address(ports ...confpatch.Port) (string, []int, error) {
	data, err := n.conf()
	if err != nil {
		return "", nil, err
	}
	host, err := n.host(data)
	if err != nil {
		return "", nil, err
	}
	values := make([]int, len(ports))
	for i, p := range ports {
		if values[i], err = confpatch.SyntaxOf(n.ConfPath()).PortValue(data, p); err != nil {
			return "", nil, err
		}
	}
	return host, values, nil
}

func (n *Node) host(conf []byte) (string, error) {
	return Identity(n.Component.ipMode(n, conf), n.env, n.hostsFile())
}

func (n *Node) env(k string) string {
	switch k {
	case "POD_FQDN":
		return n.PodFQDN
	case "POD_IP":
		return n.PodIP
	}
	return ""
}

func (n *Node) log() *zap.Logger {
	if n.Logger == nil {
		return zap.NewNop()
	}
	return n.Logger
}

// Bootstrap makes sure the cluster knows this node before a start, and
// returns the arguments to add to the start script: FE, [Join] (metadata
// check, or master discovery and join, --helper); BE/CN, [Registration];
// broker, [BrokerRegistration].
// annotations are the pod's latest ([RecoveryAnnotation]). It returns with
// ctx's error when ctx ends.
func (n *Node) Bootstrap(ctx context.Context, annotations map[string]string) ([]string, error) {
	return n.Component.bootstrap(n, ctx, annotations)
}

// Member checks that the cluster lists this node, alive: FE, SHOW FRONTENDS
// asked of its own query port; BE/CN, SHOW BACKENDS asked of FE_ADDRS;
// broker, SHOW BROKER asked of FE_ADDRS.
func (n *Node) Member(ctx context.Context) error { return n.Component.member(n, ctx) }

func (n *Node) backendBootstrap(ctx context.Context, _ map[string]string) ([]string, error) {
	host, err := n.Host()
	if err != nil {
		return nil, err
	}
	// The BE's conf must exist here: be_entrypoint.sh reads it too.
	data, err := os.ReadFile(n.ConfPath())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n.ConfPath(), err)
	}
	hb, err := confpatch.SyntaxOf(n.ConfPath()).PortValue(data, n.Component.Liveness)
	if err != nil {
		return nil, err
	}
	if err := (Registration{Client: n.Client, FEAddrs: n.FEAddrs, Host: host, HeartbeatPort: hb, Logger: n.Logger}).Register(ctx); err != nil {
		return nil, err
	}
	n.cancelStaleDecommission(ctx)
	return nil, nil
}

func (n *Node) frontendBootstrap(ctx context.Context, annotations map[string]string) ([]string, error) {
	data, err := n.conf()
	if err != nil {
		data = nil // unreadable: Doris's defaults, as before
	}
	editLog, err := confpatch.PortValue(data, EditLogPort)
	if err != nil {
		return nil, err
	}
	fqdn, err := Identity(false, n.env, n.hostsFile())
	if err != nil {
		return nil, err
	}
	host, err := n.host(data)
	if err != nil {
		return nil, err
	}
	ordinal, err := Ordinal(fqdn)
	if err != nil {
		n.log().Warn("no ordinal in the FQDN: this FE never bootstraps a new cluster", zap.String("fqdn", fqdn))
		ordinal = -1
	}
	rec, hasRec := annotations[RecoveryAnnotation]
	j := Join{Client: n.Client, Host: host, Ordinal: ordinal, EditLogPort: editLog, ElectNumber: n.ElectNumber,
		MetaDir: MetaDir(filepath.Join(n.Root, "fe"), data), Recovery: hasRec && !strings.EqualFold(strings.TrimSpace(rec), "false"),
		NewClusterWait: n.NewClusterWait, MasterWait: n.MasterWait, Logger: n.Logger}
	if _, err := os.Stat(filepath.Join(j.MetaDir, "image", "ROLE")); err != nil {
		if len(n.FEAddrs) == 0 {
			return nil, fmt.Errorf("no FE address given (FE_ADDRS is empty)")
		}
		j.FEAddrs = n.FEAddrs
	}
	return j.Prepare(ctx)
}

func (n *Node) hostsFile() string {
	if n.HostsFile == "" {
		return "/etc/hosts"
	}
	return n.HostsFile
}

// MetaDir is the FE's meta_dir: fe.conf's value with ${DORIS_HOME} (home,
// DORIS_ROOT/fe) expanded, else home/doris-meta, as start_fe.sh has it.
func MetaDir(home string, conf []byte) string {
	if v, ok := confpatch.Value(conf, "meta_dir"); ok && v != "" {
		return strings.NewReplacer("${DORIS_HOME}", home, "$DORIS_HOME", home).Replace(strings.Trim(v, `"`))
	}
	return filepath.Join(home, "doris-meta")
}

func (n *Node) frontendMember(ctx context.Context) error {
	host, p, err := n.Address(n.Component.Liveness, EditLogPort)
	if err != nil {
		return err
	}
	return FrontendMember(ctx, n.Client, net.JoinHostPort("127.0.0.1", strconv.Itoa(p[0])), host, p[1])
}

func (n *Node) backendMember(ctx context.Context) error {
	host, p, err := n.Address(n.Component.Liveness)
	if err != nil {
		return err
	}
	return BackendMember(ctx, n.Client, n.FEAddrs, host, p[0])
}

// BackendRole is this BE/CN's be_node_role as its be.conf sets it, read as
// the BE reads be.conf ([confpatch.BESyntax]), "mix" when unset or empty
// (apache/doris be/src/common/config.cpp: be_node_role defaults to mix). The
// BE sends it in every heartbeat answer (be/src/agent/heartbeat_server.cpp),
// and that is where SHOW BACKENDS' NodeRole comes from.
func (n *Node) BackendRole() (string, error) {
	data, err := n.conf()
	if err != nil {
		return "", err
	}
	if v, ok := confpatch.BESyntax.Value(data, "be_node_role"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), nil
	}
	return "mix", nil
}

// computeNode says whether self, this backend's own row, is a CN. SHOW
// BACKENDS shows NodeRole only while the backend is alive, "" otherwise
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/BackendsProcDir.java:
// `backend.isAlive() ? backend.getNodeRoleTag().value : ""`): an alive row
// says what the running BE sent; else be.conf says what it ran with.
func (n *Node) computeNode(self Backend) bool {
	if self.Alive && self.NodeRole != "" {
		return self.NodeRole == "computation"
	}
	role, err := n.BackendRole()
	if err != nil {
		n.log().Warn("cannot read be_node_role: taken as a mix backend", zap.String("conf", n.ConfPath()), zap.Error(err))
		return false
	}
	return role == "computation"
}

// rowRole is a SHOW BACKENDS row's role as far as it can be told from the
// row alone: NodeRole while it is alive (BackendsProcDir.java shows "" for
// a dead one); for a dead row, the operator's StatefulSet the pod belongs to
// (apache/doris-operator names them <cluster>-be for beSpec and <cluster>-cn
// for cnSpec, pkg/common/utils/resource/statefulset.go): a pod of a -cn
// StatefulSet is a computation node, of a -be one a mix backend; "" when
// neither tells.
func rowRole(host string, alive bool, nodeRole string) string {
	if alive && nodeRole != "" {
		return nodeRole
	}
	if nodeRole != "" {
		return nodeRole // a Doris that shows it for a dead backend too
	}
	set, _, ok := statefulSetOf(host)
	switch {
	case ok && strings.HasSuffix(set, "-cn"):
		return "computation"
	case ok && strings.HasSuffix(set, "-be"):
		return "mix"
	}
	return ""
}
