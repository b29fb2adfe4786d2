package cluster

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// frontendAfterStop is step (5) of leave.go for an FE: an observer makes
// sure it is dropped; a follower is dropped only when what remains is a
// safe quorum.
func (n *Node) frontendAfterStop(ctx context.Context, p Placement) {
	log := n.log()
	host, ports, err := n.Address(EditLogPort)
	if err != nil {
		log.Warn("scale-in: cannot tell this FE's host and edit_log_port", zap.Error(err))
		return
	}
	el, poll := ports[0], n.Leave.poll()
	for {
		done, retry := n.dropFrontend(ctx, p, host, el)
		if done || !retry {
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("scale-in: the stop budget ended before this FE could be dropped", zap.String("fe", host))
			n.Leave.event("Warning", "FollowerScaleInUnsafe", fmt.Sprintf("scale-in to %d replicas: no new master within the stop budget; "+
				"%s:%d stays registered", p.Replicas, host, el))
			return
		case <-time.After(poll):
		}
	}
}

// dropFrontend tries once; retry says to try again (no other master yet).
func (n *Node) dropFrontend(ctx context.Context, p Placement, host string, el int) (done, retry bool) {
	log := n.log()
	var fes []Frontend
	var addr string
	for _, a := range n.FEAddrs {
		var err error
		if fes, err = n.Client.ShowFrontends(ctx, a); err == nil {
			addr = a
			break
		}
	}
	if addr == "" {
		return false, true // no FE answers yet: the survivors are electing
	}
	var self *Frontend
	followers := 0
	selfSet, _, _ := statefulSetOf(host)
	for i, fe := range fes {
		if fe.Host == host && fe.EditLogPort == el {
			self = &fes[i]
			continue
		}
		if set, ord, ok := statefulSetOf(fe.Host); ok && set == selfSet && ord >= p.Replicas {
			continue // leaving too
		}
		if fe.Role == "FOLLOWER" && fe.Alive {
			followers++
		}
	}
	switch {
	case self == nil:
		log.Info("scale-in: this FE is no longer registered", zap.String("fe", host))
		return true, false
	case self.IsMaster:
		return false, true // wait for another master (it stopped: one is being elected)
	}
	follower := self.Role == "FOLLOWER"
	if follower && (followers < 2 || followers%2 == 0) {
		reason := fmt.Sprintf("%d alive followers would remain; dropping a follower needs at least two and an odd number", followers)
		log.Warn("scale-in unsafe: follower not dropped", zap.String("reason", reason))
		n.Leave.report(Progress{Action: "drop", State: "unsafe", Reason: reason, Replicas: p.Replicas, Ordinal: p.Ordinal})
		n.Leave.event("Warning", "FollowerScaleInUnsafe", fmt.Sprintf("scale-in to %d replicas: %s; %s:%d stays registered", p.Replicas, reason, host, el))
		return true, false
	}
	if err := n.Client.DropFrontend(ctx, addr, follower, host, el); err != nil {
		log.Warn("scale-in: cannot drop this FE", zap.String("fe", host), zap.Error(err))
		return false, true
	}
	role := "observer"
	if follower {
		role = "follower"
	}
	log.Info("scale-in: FE dropped", zap.String("fe", host), zap.String("role", role), zap.String("through", addr))
	n.Leave.report(Progress{Action: "drop", State: "done", Replicas: p.Replicas, Ordinal: p.Ordinal})
	n.Leave.event("Normal", "FrontendDropped", fmt.Sprintf("scale-in to %d replicas: %s %s:%d dropped", p.Replicas, role, host, el))
	return true, false
}
