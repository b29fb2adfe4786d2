package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// BackendsView is SHOW BACKENDS and who answered it. Master says the FE
// that answered is the master itself: on the same connection, SHOW
// FRONTENDS' CurrentConnected row ("Yes": the FE this connection reached,
// even when a statement was forwarded; apache/doris
// fe/fe-core/src/main/java/org/apache/doris/common/proc/FrontendsProcNode.java)
// has IsMaster true. A follower's or observer's own view of the catalog
// lags the master's journal (SHOW BACKENDS is forwarded only while the
// session's forward_to_master is true: analysis/ShowBackendsStmt.java), and
// a proxy may answer from anywhere: only the master's answers can confirm
// that a row is gone.
type BackendsView struct {
	FE        string // the address asked
	Master    bool
	ClusterID string
	Backends  []Backend
}

// Find returns the row of host:heartbeatPort.
func (v BackendsView) Find(host string, heartbeatPort int) (Backend, bool) {
	for _, be := range v.Backends {
		if be.Host == host && be.HeartbeatPort == heartbeatPort {
			return be, true
		}
	}
	return Backend{}, false
}

// MasterBackends reads SHOW FRONTENDS then SHOW BACKENDS on one connection
// to each of addrs in turn, and to the master's own address (its Host and
// QueryPort in SHOW FRONTENDS) when the FE reached is not the master. It
// returns the master's view when one was had; else the first view read
// (Master false: good for progress, never for a conclusion); else the
// errors.
func (c *Client) MasterBackends(ctx context.Context, addrs []string) (BackendsView, error) {
	var errs []error
	var first *BackendsView
	tried := map[string]bool{}
	queue := append([]string(nil), addrs...)
	for len(queue) > 0 && ctx.Err() == nil {
		addr := queue[0]
		queue = queue[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		v, master, err := c.backendsOn(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v.Master {
			return v, nil
		}
		if first == nil {
			first = &v
		}
		if master != "" {
			queue = append([]string{master}, queue...)
		}
	}
	if first != nil {
		return *first, nil
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return BackendsView{}, errors.New("no FE address to ask")
	}
	return BackendsView{}, errors.Join(errs...)
}

// backendsOn is one connection's view; master is the master's address when
// the FE reached is another ("" when none is listed).
func (c *Client) backendsOn(ctx context.Context, addr string) (v BackendsView, master string, err error) {
	res, err := c.execAll(ctx, addr, "SHOW FRONTENDS", "SHOW BACKENDS")
	if err != nil {
		return BackendsView{}, "", fmt.Errorf("show frontends, show backends on %s: %w", addr, err)
	}
	fes := newTable(res[0].cols, res[0].rows)
	if !fes.has("IsMaster") || !fes.has("CurrentConnected") {
		return BackendsView{}, "", fmt.Errorf("show frontends on %s: no IsMaster/CurrentConnected column in %q", addr, res[0].cols)
	}
	v = BackendsView{FE: addr, Backends: parseBackends(res[1].cols, res[1].rows)}
	for _, r := range res[0].rows {
		isMaster := fes.get(r, "IsMaster") == "true"
		if fes.get(r, "CurrentConnected") == "Yes" {
			v.Master = isMaster
			v.ClusterID = fes.get(r, "ClusterId")
		}
		if isMaster {
			if p := atoi(fes.get(r, "QueryPort")); ValidateHost(fes.get(r, "Host")) == nil && p > 0 && p <= 65535 {
				master = net.JoinHostPort(fes.get(r, "Host"), strconv.Itoa(p))
			}
		}
	}
	if v.Master {
		master = ""
	}
	return v, master, nil
}
