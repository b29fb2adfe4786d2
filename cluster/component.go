package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
)

// Component is one kind of Doris node as its image runs it: everything that
// differs between the FE, the BE/CN and the broker lives in one of the
// rows, [FE], [BE] and [Broker], and nowhere else. A CN is the BE row: the
// operator runs it with be_entrypoint.sh and `be_node_role = computation` in
// be.conf.
//
// Paths are relative to DORIS_ROOT.
type Component struct {
	Name    string // "fe", "be", "broker": the subcommand, and the logs' component field
	Summary string // one line for --help
	// Entrypoint and Prestop are the operator's container command and
	// preStop hook (/opt/apache-doris/fe_entrypoint.sh, fe_prestop.sh), which
	// the images link to the binary.
	Entrypoint, Prestop string
	// IsAlive, when set, is the operator's exec liveness probe
	// (broker_is_alive.sh <port>), linked to the binary too.
	IsAlive string
	Script  string   // the start script, the main child
	Args    []string // its arguments: --console (the broker's runs in the foreground without --daemon)
	Conf    string   // fe.conf / be.conf
	PIDFile string   // where a server started by hand writes its pid
	// Liveness is the port the operator's tcpSocket liveness and startup
	// probes dial (apache/doris-operator pkg/common/utils/resource/pod.go):
	// FE query_port, BE heartbeat_service_port. Debug mode moves it and
	// holds the original.
	Liveness confpatch.Port
	// MySQLLiveness says the liveness port speaks MySQL (FE query_port): in
	// debug mode a client gets an ERR packet there, not a bare close.
	MySQLLiveness bool
	// HTTP is the port of /api/health, the operator's readiness probe; debug
	// mode moves it and leaves the original closed (NotReady). The broker has
	// none (empty Key).
	HTTP confpatch.Port
	// Listens are the other ports the node opens, with Doris' defaults (-1:
	// off unless the conf sets it): debug mode's moved ports must land on
	// none of them.
	Listens []confpatch.Port
	// Grace is the pod's terminationGracePeriodSeconds when the conf does
	// not set grace_shutdown_wait_seconds (FE 330 s, BE/CN 200 s); the
	// default stop budget follows it ([Component.StopTimeout]).
	Grace time.Duration
	// ConfigMapCopies are the ConfigMap files copied into the conf dir
	// instead of linked (be_entrypoint.sh copies be.conf: the BE writes it).
	ConfigMapCopies []string
	// Ensure are conf keys set at start unless the conf sets them
	// (fe_entrypoint.sh adds enable_fqdn_mode = true).
	Ensure map[string]string
	// WorkloadGroup says ENABLE_WORKLOAD_GROUP applies (be_entrypoint.sh).
	WorkloadGroup bool
	// NeedsFEAddrs: FE_ADDRS must be given (a BE registers through it; an
	// FE with metadata needs none).
	NeedsFEAddrs bool
	// HealthBody judges the body of a 200 answer of /api/health.
	HealthBody func(body []byte) error

	// ipMode is the identity rule: does the cluster know this node by its
	// IP rather than its FQDN (conf is the component's conf).
	ipMode func(n *Node, conf []byte) bool
	// bootstrap runs before every start in normal mode (Node.Bootstrap).
	bootstrap func(n *Node, ctx context.Context, annotations map[string]string) ([]string, error)
	// member checks this node is listed and alive (Node.Member).
	member func(n *Node, ctx context.Context) error
	// beforeStop and afterStop are its part in a scale-in (leave.go), when
	// the pod is removed for good.
	beforeStop func(n *Node, ctx context.Context, p Placement) (left bool)
	afterStop  func(n *Node, ctx context.Context, p Placement)
}

// EditLogPort is the FE's edit_log_port: with the host, how the cluster
// knows an FE (SHOW FRONTENDS, ALTER SYSTEM ADD FOLLOWER).
var EditLogPort = confpatch.Port{Key: "edit_log_port", Default: 9010}

// FE is the frontend (apache/doris docker/runtime/fe/resource/fe_entrypoint.sh).
var FE = Component{
	Name:          "fe",
	Summary:       "run the Doris FE under the supervisor",
	Entrypoint:    "fe_entrypoint.sh",
	Prestop:       "fe_prestop.sh",
	Script:        "fe/bin/start_fe.sh",
	Args:          []string{"--console"},
	Conf:          "fe/conf/fe.conf",
	PIDFile:       "fe/bin/fe.pid",
	Liveness:      confpatch.Port{Key: "query_port", Default: 9030},
	MySQLLiveness: true,
	HTTP:          confpatch.Port{Key: "http_port", Default: 8030},
	Listens:       []confpatch.Port{{Key: "rpc_port", Default: 9020}, {Key: "edit_log_port", Default: 9010}, arrowFlightPort},
	Grace:         330 * time.Second,
	Ensure:        map[string]string{"enable_fqdn_mode": "true"},
	HealthBody:    FrontendHealthy,
	// enable_fqdn_mode = false in fe.conf: the FE registers by IP.
	ipMode: func(_ *Node, conf []byte) bool {
		v, _ := confpatch.Value(conf, "enable_fqdn_mode")
		return strings.EqualFold(v, "false")
	},
	bootstrap: (*Node).frontendBootstrap,
	member:    (*Node).frontendMember,
	afterStop: (*Node).frontendAfterStop,
}

// arrowFlightPort is off (-1) unless the conf sets it, FE and BE alike.
var arrowFlightPort = confpatch.Port{Key: "arrow_flight_sql_port", Default: -1}

// BE is the backend, and the compute node
// (apache/doris docker/runtime/be/resource/be_entrypoint.sh).
var BE = Component{
	Name:            "be",
	Summary:         "run the Doris BE or CN under the supervisor",
	Entrypoint:      "be_entrypoint.sh",
	Prestop:         "be_prestop.sh",
	Script:          "be/bin/start_be.sh",
	Args:            []string{"--console"},
	Conf:            "be/conf/be.conf",
	PIDFile:         "be/bin/be.pid",
	Liveness:        confpatch.Port{Key: "heartbeat_service_port", Default: 9050},
	HTTP:            confpatch.Port{Key: "webserver_port", Default: 8040},
	Listens:         []confpatch.Port{{Key: "be_port", Default: 9060}, {Key: "brpc_port", Default: 8060}, arrowFlightPort},
	Grace:           200 * time.Second,
	ConfigMapCopies: []string{"be.conf"},
	WorkloadGroup:   true,
	NeedsFEAddrs:    true,
	HealthBody:      BackendHealthy,
	// HOST_TYPE=IP: the BE registers by POD_IP.
	ipMode:     func(n *Node, _ []byte) bool { return n.IPMode },
	bootstrap:  (*Node).backendBootstrap,
	member:     (*Node).backendMember,
	beforeStop: (*Node).backendBeforeStop,
	afterStop:  (*Node).backendAfterStop,
}

// Broker is the file-system broker (apache/doris
// docker/runtime/broker/resource/broker_entrypoint.sh, broker_prestop.sh,
// broker_is_alive.sh): it registers with ALTER SYSTEM ADD BROKER under a
// name, start_broker.sh without --daemon runs the JVM in the foreground,
// and the operator's probes are exec broker_is_alive.sh <broker_ipc_port>.
var Broker = Component{
	Name:       "broker",
	Summary:    "run the Doris broker under the supervisor",
	Entrypoint: "broker_entrypoint.sh",
	Prestop:    "broker_prestop.sh",
	IsAlive:    "broker_is_alive.sh",
	Script:     "apache_hdfs_broker/bin/start_broker.sh",
	Conf:       "apache_hdfs_broker/conf/apache_hdfs_broker.conf",
	PIDFile:    "apache_hdfs_broker/bin/apache_hdfs_broker.pid",
	Liveness:   confpatch.Port{Key: "broker_ipc_port", Default: 8000},
	// The operator sets no terminationGracePeriodSeconds for the broker:
	// Kubernetes' 30 s.
	Grace:        30 * time.Second,
	NeedsFEAddrs: true,
	// HOST_TYPE=IP: registered by POD_IP, as broker_entrypoint.sh does.
	ipMode:    func(n *Node, _ []byte) bool { return n.IPMode },
	bootstrap: (*Node).brokerBootstrap,
	member:    (*Node).brokerMember,
	afterStop: (*Node).brokerAfterStop,
}

// Components are the rows, by name.
var Components = map[string]Component{FE.Name: FE, BE.Name: BE, Broker.Name: Broker}

// DebugPorts are the ports debug mode moves, the liveness port first.
func (c Component) DebugPorts() []confpatch.Port {
	if c.HTTP.Key == "" {
		return []confpatch.Port{c.Liveness}
	}
	return []confpatch.Port{c.Liveness, c.HTTP}
}

// CommandLine is the start script with its arguments, for --help.
func (c Component) CommandLine() string {
	return strings.Join(append([]string{c.Script}, c.Args...), " ")
}

// ParseFEAddrs is the FE_ADDRS argument as host:port addresses
// ([FEAddrs]); an FE may have none.
func (c Component) ParseFEAddrs(arg string, queryPort int) ([]string, error) {
	if !c.NeedsFEAddrs && strings.Trim(arg, " ,") == "" {
		return nil, nil
	}
	return FEAddrs(arg, queryPort)
}

// GraceKey is the conf key the operator derives terminationGracePeriodSeconds
// from (apache/doris-operator pkg/common/utils/resource/pod.go); it also
// makes stop_be.sh --grace wait that long for running queries.
const GraceKey = "grace_shutdown_wait_seconds"

// StopTimeout is the default stop budget: the pod's grace period (GraceKey
// in the first of confs that sets it above 0, else c.Grace) less a margin
// for the kubelet and the preStop exec of a tenth, 10 to 30 s: FE 330 s →
// 300 s, BE 200 s → 180 s, 1200 s → 1170 s.
func (c Component) StopTimeout(confs ...[]byte) time.Duration {
	return c.stopTimeout(confpatch.SyntaxOf(c.Conf), confs...)
}

func (c Component) stopTimeout(syntax confpatch.Syntax, confs ...[]byte) time.Duration {
	grace := c.Grace
	for _, conf := range confs {
		if v, ok := syntax.Value(conf, GraceKey); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				grace = time.Duration(n) * time.Second
				break
			}
		}
	}
	return grace - min(max(grace/10, 10*time.Second), 30*time.Second)
}

// StopTimeoutIn is StopTimeout of the conf the operator's ConfigMap brings
// (configMapDir; "": none), else the one in root.
func (c Component) StopTimeoutIn(root, configMapDir string) time.Duration {
	var cm []byte
	if configMapDir != "" {
		cm, _ = os.ReadFile(filepath.Join(configMapDir, filepath.Base(c.Conf)))
	}
	local, _ := os.ReadFile(filepath.Join(root, c.Conf))
	return c.StopTimeout(cm, local)
}
