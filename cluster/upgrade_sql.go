package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// What the upgrade commands and the guard read from Doris: every node with
// its Version column (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/FrontendsProcNode.java,
// BackendsProcDir.java), the ClusterId, and the three master-only flags.
// ADMIN SET FRONTEND CONFIG of a master-only key is forwarded to the master
// by any FE (apache/doris fe/fe-core/src/main/java/org/apache/doris/analysis/AdminSetConfigStmt.java:
// FORWARD_NO_SYNC, and applyToAll dropped), and SHOW FRONTEND CONFIG is with
// forward_to_master (ShowConfigStmt.java); the flags are still read and set
// on the master itself when it can be reached, so that what is read is the
// master's memory whatever the session says.

// UpgradeFlags are the master-only configs an upgrade turns off the
// balancing and repair with (the seed's step 1), in the order they are set.
var UpgradeFlags = []string{"disable_balance", "disable_colocate_balance", "disable_tablet_scheduler"}

// UpgradeNode is one FE, BE or CN as the upgrade commands show it.
type UpgradeNode struct {
	Kind           string `json:"kind"` // fe, be, cn
	Host           string `json:"host"`
	Port           int    `json:"port"` // FE edit_log_port, BE/CN heartbeat_service_port
	Role           string `json:"role"` // FE: master, follower, observer; BE: mix; CN: computation
	Version        string `json:"version"`
	VersionError   string `json:"version_error,omitempty"`
	Alive          bool   `json:"alive"`
	Decommissioned bool   `json:"decommissioned"`
	queryPort      int
	current        bool // FE: the one that answered (CurrentConnected)
	v              Version
}

func (n *UpgradeNode) parse() {
	v, err := ParseVersion(n.Version)
	if err != nil {
		n.VersionError = err.Error()
		return
	}
	n.v = v
}

// frontendNodes reads SHOW FRONTENDS on addr with the columns an upgrade
// needs, and the cluster's id.
func (c *Client) frontendNodes(ctx context.Context, addr string) ([]UpgradeNode, string, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW FRONTENDS")
	if err != nil {
		return nil, "", fmt.Errorf("show frontends on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	for _, col := range []string{"Host", "IsMaster", "Version", "ClusterId"} {
		if !t.has(col) {
			return nil, "", fmt.Errorf("show frontends on %s: no %s column in %q", addr, col, cols)
		}
	}
	var out []UpgradeNode
	id := ""
	for _, r := range rows {
		n := UpgradeNode{Kind: "fe", Host: t.get(r, "Host"), Port: atoi(t.get(r, "EditLogPort")), queryPort: atoi(t.get(r, "QueryPort")),
			Role: strings.ToLower(t.get(r, "Role")), Version: t.get(r, "Version"), Alive: t.get(r, "Alive") == "true",
			current: t.get(r, "CurrentConnected") == "Yes"}
		if t.get(r, "IsMaster") == "true" {
			n.Role = "master"
		}
		n.parse()
		out = append(out, n)
		if id == "" {
			id = t.get(r, "ClusterId")
		}
	}
	return out, id, nil
}

// backendNodes reads SHOW BACKENDS on addr.
func (c *Client) backendNodes(ctx context.Context, addr string) ([]UpgradeNode, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW BACKENDS")
	if err != nil {
		return nil, fmt.Errorf("show backends on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	var out []UpgradeNode
	for _, r := range rows {
		n := UpgradeNode{Kind: "be", Host: t.get(r, "Host"), Port: atoi(t.get(r, "HeartbeatPort")),
			Version: t.get(r, "Version"), Alive: t.get(r, "Alive") == "true", Decommissioned: t.get(r, "SystemDecommissioned") == "true"}
		// NodeRole is "" for a dead backend (BackendsProcDir.java): rowRole
		// tells a dead CN by its StatefulSet; "" when nothing tells.
		n.Role = rowRole(n.Host, n.Alive, t.get(r, "NodeRole"))
		if n.Role == "computation" {
			n.Kind = "cn"
		}
		n.parse()
		out = append(out, n)
	}
	return out, nil
}

// FlagState is the three flags on the master as last read: each "true" or
// "false" (or what the FE answered), or why they are unknown.
type FlagState struct {
	Master string            `json:"master"` // host:query_port asked
	Values map[string]string `json:"values,omitempty"`
	Err    string            `json:"error,omitempty"`
	err    error             // the query's error, when it failed
}

// Known says every flag was read.
func (f FlagState) Known() bool { return f.Err == "" && len(f.Values) == len(UpgradeFlags) }

// All says every flag reads v.
func (f FlagState) All(v bool) bool {
	if !f.Known() {
		return false
	}
	for _, k := range UpgradeFlags {
		if f.Values[k] != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// Off lists the flags that do not read true.
func (f FlagState) Off() []string {
	var out []string
	for _, k := range UpgradeFlags {
		if f.Values[k] != "true" {
			out = append(out, k)
		}
	}
	return out
}

func (f FlagState) String() string {
	if f.Err != "" {
		return "unknown: " + f.Err
	}
	var parts []string
	for _, k := range UpgradeFlags {
		v, ok := f.Values[k]
		if !ok {
			v = "absent"
		}
		parts = append(parts, k+"="+v)
	}
	switch {
	case f.All(true):
		return "on (" + strings.Join(parts, ", ") + ")"
	case f.All(false):
		return "off (" + strings.Join(parts, ", ") + ")"
	}
	return "mixed (" + strings.Join(parts, ", ") + ")"
}

// readFlags reads the three flags on addr in one query.
func (c *Client) readFlags(ctx context.Context, addr string) FlagState {
	st := FlagState{Master: addr}
	cols, rows, err := c.exec(ctx, addr, "SHOW FRONTEND CONFIG LIKE 'disable_%'")
	if err != nil {
		st.Err, st.err = fmt.Sprintf("show frontend config on %s: %v", addr, err), err
		return st
	}
	t := newTable(cols, rows)
	st.Values = map[string]string{}
	for _, r := range rows {
		for _, k := range UpgradeFlags {
			if t.get(r, "Key") == k {
				st.Values[k] = strings.ToLower(t.get(r, "Value"))
			}
		}
	}
	if len(st.Values) != len(UpgradeFlags) {
		st.Err = fmt.Sprintf("%s does not know every flag (%s)", addr, st)
	}
	return st
}

// setFlags sets the flags on addr to v, one statement each (Doris takes one
// key per ADMIN SET), then reads them back. The state is what was read
// back; err says what failed.
func (c *Client) setFlags(ctx context.Context, addr string, keys []string, v bool) (FlagState, error) {
	var errs []error
	for _, k := range keys {
		if err := c.SetFrontendConfig(ctx, addr, k, v); err != nil {
			errs = append(errs, fmt.Errorf("set %s=%t on %s: %w", k, v, addr, err))
		}
	}
	st := c.readFlags(ctx, addr)
	if st.Err != "" {
		errs = append(errs, errors.New(st.Err))
	} else {
		for _, k := range keys {
			if st.Values[k] != fmt.Sprint(v) {
				errs = append(errs, fmt.Errorf("%s reads %s on %s after it was set to %t", k, st.Values[k], addr, v))
			}
		}
	}
	return st, errors.Join(errs...)
}

// clusterView is one reading of the cluster: its nodes as one FE sees them.
type clusterView struct {
	ClusterID string
	Answered  string // the FE address that answered
	Nodes     []UpgradeNode
	master    *UpgradeNode
}

// lookupAttempts is how many times view asks the FEs while every one of
// them failed on a transient name lookup (one resolver timeout under load
// must not end `upgrade begin`); each attempt is bounded by the connect
// timeout, so the whole is a few of them.
const lookupAttempts = 3

// view reads SHOW FRONTENDS and, with backends, SHOW BACKENDS from the
// first FE in addrs that answers. An FE that answered with an error (access
// denied) ends the search: the others would say the same. When no FE
// answered only because their names could not be looked up for a moment
// (DNS timeout, temporary failure), it asks again, up to lookupAttempts.
func (c *Client) view(ctx context.Context, addrs []string, backends bool) (*clusterView, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no FE address to ask (give --fe, or set ENV_FE_ADDR)")
	}
	ct, _ := c.timeouts()
	return retryLookups(ctx, lookupAttempts, ct/4, func() (*clusterView, error) { return c.viewOnce(ctx, addrs, backends) })
}

// retryLookups runs round until it returns a view, fails for another
// reason than a transient lookup, attempts are used up, or ctx ends; it
// pauses between rounds, doubling each time. The error says how many
// rounds were tried.
func retryLookups(ctx context.Context, attempts int, pause time.Duration, round func() (*clusterView, error)) (*clusterView, error) {
	for i := 1; ; i++ {
		v, err := round()
		if err == nil || !errors.As(err, new(*lookupError)) || ctx.Err() != nil {
			return v, err
		}
		if i >= attempts {
			return nil, fmt.Errorf("%w (name lookups failed %d times in a row)", err, i)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// transientLookup says err is a name lookup that may succeed if asked
// again: a resolver timeout or temporary failure, never "no such host".
func transientLookup(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && !de.IsNotFound && (de.IsTimeout || de.IsTemporary)
}

// viewOnce is one round of view over addrs.
func (c *Client) viewOnce(ctx context.Context, addrs []string, backends bool) (*clusterView, error) {
	var errs []error
	for _, addr := range addrs {
		fes, id, err := c.frontendNodes(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			if Answered(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		v := &clusterView{ClusterID: id, Answered: addr, Nodes: fes}
		if backends {
			bes, err := c.backendNodes(ctx, addr)
			if err != nil {
				return nil, err
			}
			v.Nodes = append(v.Nodes, bes...)
		}
		for i := range v.Nodes {
			if v.Nodes[i].Kind == "fe" && v.Nodes[i].Role == "master" {
				v.master = &v.Nodes[i]
			}
		}
		return v, nil
	}
	err := errors.Join(errs...)
	for _, e := range errs {
		if !transientLookup(e) {
			return nil, fmt.Errorf("no FE answered: %w", err)
		}
	}
	return nil, &lookupError{fmt.Errorf("no FE answered: %w", err)}
}

// lookupError is a round in which every FE failed on a transient name
// lookup (a round with one FE that failed otherwise is not retried).
type lookupError struct{ err error }

func (e *lookupError) Error() string { return e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// masterFlags reads the flags on the master's own query port or, when the
// master cannot be named or reached, through the FE that answered (it
// forwards to the master). The state's Master is the address to set them
// on.
func (c *Client) masterFlags(ctx context.Context, v *clusterView) FlagState {
	if v.master != nil && !v.master.current {
		if addr, err := HostPort(v.master.Host, v.master.queryPort); err == nil {
			st := c.readFlags(ctx, addr)
			if st.err == nil || Answered(st.err) {
				return st
			}
		}
	}
	return c.readFlags(ctx, v.Answered)
}
