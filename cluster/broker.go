// Broker registration: make sure the cluster knows this broker (SHOW BROKER
// lists its name with host:broker_ipc_port, else ALTER SYSTEM ADD BROKER
// name "host:port"), in the BE registration's rounds: every FE address,
// bounded waits with backoff, a context that the debug annotation and
// SIGTERM end. broker_entrypoint.sh asks each address once with grep -w on
// the host alone, and after 60 s starts the broker unregistered.

package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
)

// DefaultBrokerName is the name broker_entrypoint.sh registers under
// (BK_NAME).
const DefaultBrokerName = "broker001"

// validBrokerName: what this client sends as a broker name, backquoted. Doris
// only refuses an empty one (ModifyBrokerClause.validateBrokerName); this is
// narrower, so that the name needs no escaping.
var validBrokerName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidateBrokerName accepts a letter, then up to 63 letters, digits, '_'
// and '-'.
func ValidateBrokerName(name string) error {
	if !validBrokerName.MatchString(name) {
		return fmt.Errorf("invalid broker name %q: want a letter, then up to 63 letters, digits, _ or -", name)
	}
	return nil
}

// FsBroker is a row of SHOW BROKER (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/catalog/BrokerMgr.java: Name,
// Host, Port, Alive, LastStartTime, LastUpdateTime, ErrMsg; before FQDN
// support IP and IsAlive).
type FsBroker struct {
	Name, Host string
	Port       int
	Alive      bool
	ErrMsg     string
}

// ShowBrokers returns SHOW BROKER as seen by the FE at addr.
func (c *Client) ShowBrokers(ctx context.Context, addr string) ([]FsBroker, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW BROKER")
	if err != nil {
		return nil, fmt.Errorf("show broker on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	host, alive := "Host", "Alive"
	if !t.has(host) {
		host = "IP"
	}
	if !t.has(alive) {
		alive = "IsAlive"
	}
	if !t.has("Name") || !t.has(host) || !t.has("Port") {
		return nil, fmt.Errorf("show broker on %s: no Name/Host/Port column in %q", addr, cols)
	}
	var out []FsBroker
	for _, r := range rows {
		out = append(out, FsBroker{Name: t.get(r, "Name"), Host: t.get(r, host), Port: atoi(t.get(r, "Port")),
			Alive: t.get(r, alive) == "true", ErrMsg: t.get(r, "ErrMsg")})
	}
	return out, nil
}

// AddBroker sends ALTER SYSTEM ADD BROKER `name` "host:port".
func (c *Client) AddBroker(ctx context.Context, addr, name, host string, port int) error {
	return c.brokerStatement(ctx, addr, "ADD", name, host, port)
}

// DropBroker sends ALTER SYSTEM DROP BROKER `name` "host:port".
func (c *Client) DropBroker(ctx context.Context, addr, name, host string, port int) error {
	return c.brokerStatement(ctx, addr, "DROP", name, host, port)
}

func (c *Client) brokerStatement(ctx context.Context, addr, verb, name, host string, port int) error {
	if err := ValidateBrokerName(name); err != nil {
		return err
	}
	hp, err := HostPort(host, port)
	if err != nil {
		return err
	}
	_, _, err = c.exec(ctx, addr, fmt.Sprintf("ALTER SYSTEM %s BROKER `%s` \"%s\"", verb, name, hp))
	return err
}

// brokerListed says brokers has name with host:port.
func brokerListed(brokers []FsBroker, name, host string, port int) (FsBroker, bool) {
	for _, b := range brokers {
		if b.Name == name && b.Host == host && b.Port == port {
			return b, true
		}
	}
	return FsBroker{}, false
}

// BrokerRegistration registers a broker.
type BrokerRegistration struct {
	Client                *Client
	FEAddrs               []string // host:query_port of each FE address
	Name                  string   // the broker name ([DefaultBrokerName])
	Host                  string   // this node as the FE must know it
	Port                  int      // broker_ipc_port
	Logger                *zap.Logger
	Interval, MaxInterval time.Duration // as [Registration]'s
}

// Register returns once the cluster lists this broker under its name, or
// with ctx's error.
func (b BrokerRegistration) Register(ctx context.Context) error {
	log := cmp.Or(b.Logger, zap.NewNop())
	if err := ValidateBrokerName(b.Name); err != nil {
		return err
	}
	self, err := HostPort(b.Host, b.Port)
	if err != nil {
		return fmt.Errorf("broker identity: %w", err)
	}
	r := rounds{FEAddrs: b.FEAddrs, Interval: b.Interval, MaxInterval: b.MaxInterval, Logger: log,
		Waiting: "waiting for an FE master to register the broker", Fields: []zap.Field{zap.String("broker", b.Name), zap.String("address", self)}}
	fe, attempt, err := r.run(ctx, func(fe string) (bool, string) { return b.try(ctx, fe, log) })
	if err != nil {
		return err
	}
	log.Info("broker registered", zap.String("broker", b.Name), zap.String("address", self), zap.String("fe", fe), zap.Int("attempt", attempt))
	return nil
}

// try asks one FE; ok means the broker is listed now.
func (b BrokerRegistration) try(ctx context.Context, fe string, log *zap.Logger) (ok bool, reason string) {
	brokers, err := b.Client.ShowBrokers(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	if _, ok := brokerListed(brokers, b.Name, b.Host, b.Port); ok {
		return true, ""
	}
	fes, err := b.Client.ShowFrontends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	if _, ok := Master(fes); !ok {
		return false, "no master elected"
	}
	// BrokerMgr.addBrokers: "Broker(host:port) has already in brokers."
	// when another FE's round added it first.
	if err := b.Client.AddBroker(ctx, fe, b.Name, b.Host, b.Port); err != nil && !strings.Contains(err.Error(), "already in brokers") {
		return false, "add broker: " + err.Error()
	}
	log.Info("broker added", zap.String("broker", b.Name), zap.String("host", b.Host), zap.Int("port", b.Port), zap.String("fe", fe))
	if brokers, err = b.Client.ShowBrokers(ctx, fe); err != nil {
		return false, err.Error()
	}
	if _, ok := brokerListed(brokers, b.Name, b.Host, b.Port); ok {
		return true, ""
	}
	return false, "added but not listed yet"
}

// BrokerMember checks that SHOW BROKER, asked of the first FE in addrs that
// answers, lists name with host:port Alive (the FE pings it). Only FEs that
// cannot be reached are skipped: one query per call at most.
func BrokerMember(ctx context.Context, c *Client, addrs []string, name, host string, port int) error {
	if len(addrs) == 0 {
		return errors.New("no FE address to ask")
	}
	_, self, err := brokerSelf(ctx, c, addrs, name, host, port)
	if err != nil {
		return err
	}
	if !self.Alive {
		return fmt.Errorf("SHOW BROKER lists %s %s:%d with Alive=false: %.100s", name, host, port, self.ErrMsg)
	}
	return nil
}

// brokerSelf is this broker's row, asked of the first FE that answers.
func brokerSelf(ctx context.Context, c *Client, addrs []string, name, host string, port int) (string, FsBroker, error) {
	var errs []error
	for _, addr := range addrs {
		brokers, err := c.ShowBrokers(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			if Answered(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		if b, ok := brokerListed(brokers, name, host, port); ok {
			return addr, b, nil
		}
		return addr, FsBroker{}, fmt.Errorf("SHOW BROKER on %s does not list %s %s:%d", addr, name, host, port)
	}
	return "", FsBroker{}, errors.Join(errs...)
}

// brokerName is the name this node registers under.
func (n *Node) brokerName() string { return cmp.Or(n.BrokerName, DefaultBrokerName) }

// brokerIdentity is how the cluster knows this broker: host and
// broker_ipc_port (a missing conf: the default, as broker_entrypoint.sh).
func (n *Node) brokerIdentity() (string, int, error) {
	host, p, err := n.Address(n.Component.Liveness)
	if err != nil {
		return "", 0, err
	}
	return host, p[0], nil
}

func (n *Node) brokerBootstrap(ctx context.Context, _ map[string]string) ([]string, error) {
	host, port, err := n.brokerIdentity()
	if err != nil {
		return nil, err
	}
	return nil, BrokerRegistration{Client: n.Client, FEAddrs: n.FEAddrs, Name: n.brokerName(), Host: host, Port: port, Logger: n.Logger}.Register(ctx)
}

func (n *Node) brokerMember(ctx context.Context) error {
	host, port, err := n.brokerIdentity()
	if err != nil {
		return err
	}
	return BrokerMember(ctx, n.Client, n.FEAddrs, n.brokerName(), host, port)
}

// brokerAfterStop drops a broker that goes for good (it holds no data), so
// that no dead broker stays in SHOW BROKER.
func (n *Node) brokerAfterStop(ctx context.Context, p Placement) {
	host, port, err := n.brokerIdentity()
	if err != nil {
		n.log().Warn("scale-in: cannot tell this broker's address to drop it", zap.Error(err))
		return
	}
	fe, _, err := brokerSelf(ctx, n.Client, n.FEAddrs, n.brokerName(), host, port)
	if err != nil {
		n.log().Info("scale-in: broker not dropped", zap.Error(err))
		return
	}
	if err := n.Client.DropBroker(ctx, fe, n.brokerName(), host, port); err != nil {
		n.log().Warn("scale-in: cannot drop the broker", zap.Error(err))
		return
	}
	n.log().Info("scale-in: broker dropped", zap.String("broker", n.brokerName()), zap.String("host", host), zap.String("fe", fe))
	n.Leave.report(Progress{Action: "drop", State: "done", Replicas: p.Replicas, Ordinal: p.Ordinal})
	n.Leave.event("Normal", "BrokerDropped", fmt.Sprintf("scale-in to %d replicas: broker %s %s:%d dropped", p.Replicas, n.brokerName(), host, port))
}
