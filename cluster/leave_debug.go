package cluster

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// AfterDebugStop is a scale-in's part when the pod is stopped in debug mode
// (supervisor/modes, step 8), once every process is stopped and the conf
// restored (the cluster knows the node by its original ports): the
// component was not running, so nothing ran before the stop.
//   - CN: dropped as after any stop (5): it holds no replicas.
//   - FE observer or follower, broker: as after any stop (5).
//   - BE (mix): it cannot decommission without its process, so it is never
//     dropped: Warning ScaleInUnsafe says so, and its data stays on the
//     retained volume (the FE repairs what has replicas elsewhere).
func (n *Node) AfterDebugStop(ctx context.Context) {
	if n.Component.afterStop == nil {
		return
	}
	p, ok := n.placement(ctx)
	if !ok || !p.Removed() {
		return
	}
	if n.Component.beforeStop == nil { // FE, broker
		n.Component.afterStop(n, ctx, p)
		return
	}
	_, self, _, found, err := n.backendSelf(ctx)
	switch {
	case err != nil:
		// Not found out whether it is a CN: be.conf alone tells.
		self = Backend{}
	case !found:
		n.log().Info("scale-in in debug mode: this backend is not registered; nothing to do", zap.String("backend", self.Host))
		return
	}
	if n.computeNode(self) {
		n.Component.afterStop(n, ctx, p)
		return
	}
	reason := "the pod was stopped in debug mode: the BE was not running, so it could not decommission in the stop budget"
	if found && self.TabletNum > 0 {
		reason += fmt.Sprintf(" (%d tablets on it)", self.TabletNum)
	}
	reason += "; not dropped (remove the debug annotation and run doris-entrypoint scale-in be before scaling in)"
	n.unsafe(p, reason)
}
