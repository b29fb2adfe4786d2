package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Leaving the cluster on a scale-in. The operator only lowers the
// StatefulSet's replicas (apache/doris-operator
// pkg/controller/sub_controller/be/prepare_modify.go): a BE that is simply
// stopped takes its single-replica tablets with it, and a dead CN stays
// registered. So the node leaves by itself, from inside the pod, in its stop
// budget:
//
//  1. A stop comes (the preStop hook). The node asks its StatefulSet
//     (Placement): it is removed for good only when the StatefulSet exists,
//     is not being deleted, and wants no more replicas than its ordinal.
//     Anything else (a restart, a roll, a drain, the whole cluster going) is
//     an ordinary stop.
//  2. BE (mix), before it stops: the decommission must be able to finish —
//     enough BEs remain (alive, not decommissioned, ordinal < replicas; each
//     pod counts from replicas, so 5→3 works in parallel) for the largest
//     replication number, and the tablet scheduler is on. Otherwise: Warning
//     ScaleInUnsafe, and an ordinary stop (the FE repairs what has replicas
//     elsewhere, single replicas stay on the retained PVC).
//  3. ALTER SYSTEM DECOMMISSION BACKEND, the BE keeps running (NotReady:
//     the stop is requested) while the FE moves its replicas; the progress
//     is followed in SHOW BACKENDS (TabletNum) and reported. The FE drops
//     the BE at 0 (drop_backend_after_decommission): then it stops.
//  4. The budget ends first: Warning DecommissionIncomplete with the tablets
//     left, and it stops decommissioned; the FE goes on moving what has
//     replicas elsewhere. Nothing here ever drops a BE that holds tablets.
//  5. CN, after it stopped: ALTER SYSTEM DROPP BACKEND (it holds no
//     replicas: NodeRole computation and TabletNum 0 are checked first).
//     Observer: ALTER SYSTEM DROP OBSERVER through another FE. Follower (only
//     when electionNumber was lowered): dropped through the new master once
//     one is elected, and only when the followers that remain are alive, at
//     least two and an odd number; else Warning FollowerScaleInUnsafe.
//  6. At start, a BE/CN that is not being removed but finds itself
//     decommissioned (an interrupted scale-in, or scaled back out) sends
//     CANCEL DECOMMISSION BACKEND (Event DecommissionCancelled) — unless a
//     scale-in by hand is under way for it (its record, scalein_record.go:
//     Event DecommissionKept), or the record cannot be read (Warning
//     DecommissionLeft): a restart never undoes what a person asked for.

// Placement is where the pod's StatefulSet puts it.
type Placement struct {
	StatefulSet string
	Ordinal     int
	Replicas    int
	Deleting    bool // the StatefulSet is being deleted: the cluster goes as a whole
}

// ErrNoAPI is a Placement error: the pod has no API access at all.
var ErrNoAPI = errors.New("no API access")

// Removed says the pod goes away for good (1).
func (p Placement) Removed() bool { return !p.Deleting && p.Replicas <= p.Ordinal }

// Progress is how far a leave has come, for the log, /status and Events.
type Progress struct {
	Action      string    `json:"action"` // decommission, drop
	State       string    `json:"state"`  // started, done, incomplete, unsafe, cancelled
	Reason      string    `json:"reason,omitempty"`
	Tablets     int       `json:"tablets_left"`
	Initial     int       `json:"tablets_at_start"`
	RatePerSec  float64   `json:"tablets_per_second"`
	BudgetLeft  float64   `json:"budget_left_seconds"`
	ETASeconds  float64   `json:"eta_seconds,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Replicas    int       `json:"replicas"`
	Ordinal     int       `json:"ordinal"`
	Remaining   int       `json:"remaining_backends,omitempty"`
	Replication int       `json:"max_replication_num,omitempty"`
}

// Leave is a node's part in a scale-in: Placement reads the StatefulSet
// (nil: no API access; a scale-in cannot be recognised then), Event posts
// Kubernetes Events, Report receives the progress.
type Leave struct {
	Placement func(ctx context.Context) (Placement, error)
	Event     func(eventType, reason, message string)
	Report    func(Progress)
	// Records holds the scale-in record (scalein_record.go) the start path
	// reads; nil: none can be kept.
	Records UpgradeRecords
	// Poll is how often the decommission's progress is read; 0: 0.5 s
	// (the BE leaves SHOW BACKENDS → its stop begins within that).
	Poll time.Duration
}

// poll is Poll or its default.
func (l *Leave) poll() time.Duration {
	if l.Poll <= 0 {
		return 500 * time.Millisecond
	}
	return l.Poll
}

func (l *Leave) event(typ, reason, msg string) {
	if l != nil && l.Event != nil {
		l.Event(typ, reason, msg)
	}
}

func (l *Leave) report(p Progress) {
	if l != nil && l.Report != nil {
		p.UpdatedAt = time.Now().UTC()
		l.Report(p)
	}
}

// placement asks the StatefulSet; ok is false when this is no scale-in or
// it cannot be told (logged).
func (n *Node) placement(ctx context.Context) (Placement, bool) {
	if n.Leave == nil || n.Leave.Placement == nil {
		n.log().Info("no API access: a scale-in cannot be recognised; stopping as before")
		return Placement{}, false
	}
	p, err := n.Leave.Placement(ctx)
	switch {
	case errors.Is(err, ErrNoAPI):
		n.log().Info("no API access: a scale-in cannot be recognised; stopping as before", zap.Error(err))
		return Placement{}, false
	case err != nil:
		n.log().Warn("cannot read the StatefulSet: a scale-in cannot be recognised; stopping as before", zap.Error(err))
		return Placement{}, false
	}
	return p, true
}

// BeforeStop runs when a stop is requested while the component runs, before
// it is stopped; ctx ends when the part of the stop budget it may use ends.
// It returns once the node may be stopped; left says the node has left the
// cluster (the FE dropped the decommissioned BE): its stop is then a
// success whatever the process's exit code (3).
func (n *Node) BeforeStop(ctx context.Context) (left bool) {
	if n.Component.beforeStop != nil {
		if p, ok := n.placement(ctx); ok && p.Removed() {
			return n.Component.beforeStop(n, ctx, p)
		}
	}
	return false
}

// AfterStop runs once the component stopped on a stop request; ctx ends
// with the stop budget.
func (n *Node) AfterStop(ctx context.Context) {
	if n.Component.afterStop != nil {
		if p, ok := n.placement(ctx); ok && p.Removed() {
			n.Component.afterStop(n, ctx, p)
		}
	}
}

// self is this backend's row, asked of the first FE that answers.
func (n *Node) backendSelf(ctx context.Context) (fe string, self Backend, all []Backend, found bool, err error) {
	host, p, err := n.Address(n.Component.Liveness)
	if err != nil {
		return "", Backend{}, nil, false, err
	}
	hb := p[0]
	var errs []error
	for _, addr := range n.FEAddrs {
		bes, err := n.Client.ShowBackends(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, be := range bes {
			if be.Host == host && be.HeartbeatPort == hb {
				return addr, be, bes, true, nil
			}
		}
		return addr, Backend{Host: host, HeartbeatPort: hb}, bes, false, nil
	}
	if len(errs) == 0 {
		return "", Backend{}, nil, false, errors.New("no FE address to ask")
	}
	return "", Backend{}, nil, false, errors.Join(errs...)
}

// statefulSetOf is the StatefulSet part of a pod's host name
// ("doris-be-3.doris-be-internal…" → "doris-be") and its ordinal.
func statefulSetOf(host string) (string, int, bool) {
	label, _, _ := strings.Cut(host, ".")
	i := strings.LastIndexByte(label, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := Ordinal(label)
	if err != nil {
		return "", 0, false
	}
	return label[:i], n, true
}

// remainingBackends counts, per location tag (replicas.go), the backends
// that hold replicas after the scale-in (2): alive, not decommissioned, not
// compute nodes, not this one, and not another pod of this StatefulSet at
// or above replicas. A backend whose tag cannot be read counts for none.
func remainingBackends(bes []Backend, self Backend, p Placement) (map[string]int, error) {
	selfSet, _, ok := statefulSetOf(self.Host)
	if !ok {
		return nil, fmt.Errorf("cannot tell the remaining backends: %q is not a StatefulSet pod's FQDN (IP mode?)", self.Host)
	}
	if self.Location == "" {
		return nil, fmt.Errorf("cannot tell the location tag of %s:%d (SHOW BACKENDS Tag)", self.Host, self.HeartbeatPort)
	}
	n := map[string]int{}
	for _, be := range bes {
		if be.Host == self.Host && be.HeartbeatPort == self.HeartbeatPort || !be.Alive || be.Decommissioned || be.NodeRole == "computation" {
			continue
		}
		if set, ord, ok := statefulSetOf(be.Host); ok && set == selfSet && ord >= p.Replicas {
			continue // leaving too, in parallel
		}
		if be.Location != "" {
			n[be.Location]++
		}
	}
	return n, nil
}

// backendBeforeStop is (2)–(4) for a BE; a CN has nothing to move.
func (n *Node) backendBeforeStop(ctx context.Context, p Placement) (left bool) {
	log := n.log()
	fe, self, bes, found, err := n.backendSelf(ctx)
	switch {
	case err != nil:
		n.unsafe(p, "cannot read SHOW BACKENDS: "+err.Error())
		return
	case !found:
		log.Info("scale-in: this backend is not registered; nothing to decommission", zap.String("backend", self.Host))
		return
	case n.computeNode(self):
		return // a CN: dropped after it stopped (5)
	}
	prog := Progress{Action: "decommission", Replicas: p.Replicas, Ordinal: p.Ordinal, Tablets: self.TabletNum, Initial: self.TabletNum,
		StartedAt: time.Now().UTC()}
	if !self.Decommissioned { // a decommission begun by an earlier stop is simply followed
		remaining, err := remainingBackends(bes, self, p)
		if err != nil {
			n.unsafe(p, err.Error())
			return
		}
		parts, err := n.Client.Partitions(ctx, fe)
		if err != nil {
			n.unsafe(p, "cannot read the partitions' replication numbers: "+err.Error())
			return
		}
		maxRepl := 0
		for _, part := range parts {
			maxRepl = max(maxRepl, part.Allocation[self.Location])
		}
		prog.Remaining, prog.Replication = remaining[self.Location], maxRepl
		if why := ReplicaShortfall(parts, remaining, []string{self.Location}); why != "" {
			n.unsafe(p, why)
			return
		}
		if v, ok, err := n.Client.FrontendConfig(ctx, fe, "disable_tablet_scheduler"); err != nil {
			n.unsafe(p, "cannot read disable_tablet_scheduler: "+err.Error())
			return
		} else if ok && strings.EqualFold(v, "true") {
			n.unsafe(p, "disable_tablet_scheduler is true: a decommission makes no progress (an upgrade in progress?)")
			return
		}
		if err := n.Client.Decommission(ctx, fe, self.Host, self.HeartbeatPort); err != nil {
			// Refused at once (a 3.x FE's own replica check, apache/doris
			// fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java
			// checkDecommissionWithReplicaAllocation): final, never retried.
			n.unsafe(p, "cannot decommission: the FE refused ALTER SYSTEM DECOMMISSION BACKEND: "+err.Error())
			return
		}
	}
	deadline, _ := ctx.Deadline()
	prog.State = "started"
	prog.BudgetLeft = time.Until(deadline).Seconds()
	msg := fmt.Sprintf("scale-in to %d replicas: decommissioning %s:%d, %d tablets to move, budget %s",
		p.Replicas, self.Host, self.HeartbeatPort, self.TabletNum, time.Until(deadline).Round(time.Second))
	log.Info("decommission started", zap.Int("tablets", self.TabletNum), zap.Int("replicas", p.Replicas), zap.Int("ordinal", p.Ordinal),
		zap.Duration("budget", time.Until(deadline).Round(time.Second)), zap.String("fe", fe))
	n.Leave.event("Normal", "DecommissionStarted", msg)
	n.Leave.report(prog)
	return n.followDecommission(ctx, prog, self)
}

// followDecommission reads SHOW BACKENDS until the drain of the backend is
// over (3; drain.go says when) or ctx ends (4).
func (n *Node) followDecommission(ctx context.Context, prog Progress, self Backend) (done bool) {
	log := n.log()
	tick := time.NewTimer(n.Leave.poll())
	defer tick.Stop()
	d := NewDrain(self)
	node := d.Nodes[0]
	var lastLog time.Time
	for {
		tick.Reset(d.NextPoll(n.Leave.poll(), prog.RatePerSec))
		select {
		case <-ctx.Done():
			prog.State = "incomplete"
			n.Leave.report(prog)
			left := fmt.Sprintf("%d tablets left on this backend", prog.Tablets)
			log.Warn("decommission incomplete: the stop budget ended; stopping decommissioned", zap.Int("tablets", prog.Tablets),
				zap.String("outcome", node.Outcome))
			n.Leave.event("Warning", "DecommissionIncomplete", fmt.Sprintf("stop budget ended with %s; "+
				"it stays decommissioned and the FE goes on moving what has replicas elsewhere (raise grace_shutdown_wait_seconds, "+
				"or decommission before scaling in: doris-entrypoint scale-in)", left))
			return false
		case <-tick.C:
		}
		v, err := n.Client.MasterBackends(ctx, n.FEAddrs)
		if err != nil {
			log.Warn("decommission: cannot read SHOW BACKENDS", zap.Error(err))
			continue
		}
		d.Observe(v, time.Now())
		prog.Tablets = node.Tablets
		prog.Reason = ""
		if cand, reads := node.Confirming(); cand != "" {
			prog.Reason = fmt.Sprintf("%s? confirming with the master: %d of %d reads", cand, reads, ConfirmReads)
		} else if !v.Master {
			prog.Reason = "a non-master answered: progress only"
		}
		switch node.Outcome {
		case Dropped, Kept:
			prog.State, prog.Tablets, prog.Reason = "done", 0, node.Outcome
			n.Leave.report(prog)
			took := time.Since(prog.StartedAt).Round(time.Second)
			msg := fmt.Sprintf("%d tablets moved in %s; the FE dropped this backend", prog.Initial, took)
			if node.Outcome == Kept {
				msg = fmt.Sprintf("%d tablets moved in %s; the backend is empty (SystemDecommissioned, TabletNum 0 on the master "+
					"for %s); %s", prog.Initial, took, ConfirmSpan, keptRow(ctx, n.Client, v.FE, self))
			}
			// outcome: dropped (the FE dropped the row) or kept (empty, the row still listed).
			log.Info("decommission done", zap.String("outcome", node.Outcome), zap.Int("tablets", 0), zap.Duration("took", took))
			n.Leave.event("Normal", "DecommissionDone", msg)
			return true
		case Cancelled:
			prog.State = "cancelled"
			prog.Reason = "CANCEL DECOMMISSION BACKEND by someone else"
			n.Leave.report(prog)
			log.Warn("decommission cancelled by someone else; stopping as before", zap.Int("tablets", node.Tablets))
			n.Leave.event("Warning", "DecommissionCancelled", fmt.Sprintf("the decommission of %s:%d was cancelled with %d tablets "+
				"left on it (CANCEL DECOMMISSION BACKEND); the pod stops as before, its data stays on the retained volume",
				self.Host, self.HeartbeatPort, node.Tablets))
			return false
		case Vanished:
			prog.State = "vanished"
			prog.Reason = fmt.Sprintf("the master no longer lists it; its last row held %d tablets: not done", node.Tablets)
			n.Leave.report(prog)
			log.Warn("decommission: the master no longer lists this backend, whose last row held tablets; not done, stopping as before",
				zap.Int("tablets", node.Tablets))
			n.Leave.event("Warning", "BackendVanished", fmt.Sprintf("the master no longer lists %s:%d, whose last row held %d tablets: "+
				"not counted as done (dropped by hand, or emptied and dropped between two reads); the pod stops as before, "+
				"its data stays on the retained volume", self.Host, self.HeartbeatPort, node.Tablets))
			return false
		}
		prog.RatePerSec, prog.ETASeconds = drainRate(prog.Initial, prog.Tablets, prog.StartedAt)
		if dl, ok := ctx.Deadline(); ok {
			prog.BudgetLeft = time.Until(dl).Seconds()
		}
		n.Leave.report(prog)
		if time.Since(lastLog) >= 10*time.Second {
			log.Info("decommission in progress", zap.Int("tablets", prog.Tablets), zap.Float64("tablets_per_second", prog.RatePerSec),
				zap.Float64("eta_seconds", prog.ETASeconds), zap.Float64("budget_left_seconds", prog.BudgetLeft), zap.Bool("master_read", v.Master))
			lastLog = time.Now()
		}
	}
}

// keptRow says what becomes of an emptied backend's row, after the
// master's drop_backend_after_decommission (SystemHandler.runAlterJobV2).
func keptRow(ctx context.Context, c *Client, fe string, be Backend) string {
	hp := fmt.Sprintf("%s:%d", be.Host, be.HeartbeatPort)
	switch v, ok, err := c.FrontendConfig(ctx, fe, "drop_backend_after_decommission"); {
	case err == nil && ok && strings.EqualFold(v, "false"):
		return "its row stays, decommissioned, because drop_backend_after_decommission is false on the master " +
			"(ALTER SYSTEM DROPP BACKEND \"" + hp + "\" removes it)"
	case err == nil && ok:
		return "the FE drops its row at its next round (SystemHandler, every 10 s)"
	}
	return "its row stays until the FE drops it (drop_backend_after_decommission unknown); " +
		"ALTER SYSTEM DROPP BACKEND \"" + hp + "\" removes it"
}

// unsafe is (2)'s refusal.
func (n *Node) unsafe(p Placement, reason string) {
	n.log().Warn("scale-in unsafe: not decommissioning; stopping as before", zap.String("reason", reason),
		zap.Int("replicas", p.Replicas), zap.Int("ordinal", p.Ordinal))
	n.Leave.report(Progress{Action: "decommission", State: "unsafe", Reason: reason, Replicas: p.Replicas, Ordinal: p.Ordinal})
	n.Leave.event("Warning", "ScaleInUnsafe", fmt.Sprintf("scale-in to %d replicas: %s; the backend stays registered and "+
		"its data stays on the retained volume", p.Replicas, reason))
}

// backendAfterStop is (5) for a CN. By now the FE may have marked it dead,
// and SHOW BACKENDS shows a dead backend's NodeRole as "" (BackendsProcDir.java):
// the role comes from be.conf then (computeNode), the TabletNum from the row.
func (n *Node) backendAfterStop(ctx context.Context, p Placement) {
	fe, self, _, found, err := n.backendSelf(ctx)
	switch {
	case err != nil:
		n.log().Warn("scale-in: cannot read SHOW BACKENDS to drop the compute node", zap.Error(err))
		return
	case !found || !n.computeNode(self):
		return
	case self.TabletNum != 0:
		n.log().Warn("scale-in: a compute node that holds tablets is not dropped", zap.Int("tablets", self.TabletNum))
		return
	}
	if err := n.Client.DropComputeNode(ctx, fe, self.Host, self.HeartbeatPort); err != nil {
		n.log().Warn("scale-in: cannot drop the compute node", zap.Error(err))
		return
	}
	n.log().Info("scale-in: compute node dropped", zap.String("backend", self.Host), zap.String("fe", fe))
	n.Leave.report(Progress{Action: "drop", State: "done", Replicas: p.Replicas, Ordinal: p.Ordinal})
	n.Leave.event("Normal", "ComputeNodeDropped", fmt.Sprintf("scale-in to %d replicas: compute node %s:%d dropped", p.Replicas, self.Host, self.HeartbeatPort))
}

// cancelStaleDecommission is (6), after a BE/CN registered; a scale-in by
// hand that is under way (its record holds this backend: scalein_record.go)
// keeps the decommission.
func (n *Node) cancelStaleDecommission(ctx context.Context) {
	if n.Leave == nil || n.Leave.Placement == nil {
		return
	}
	host, ports, err := n.Address(n.Component.Liveness)
	if err != nil {
		return
	}
	v, err := n.Client.MasterBackends(ctx, n.FEAddrs)
	if err != nil {
		return
	}
	self, found := v.Find(host, ports[0])
	if !found || !self.Decommissioned {
		return
	}
	p, err := n.Leave.Placement(ctx)
	if err != nil || p.Removed() {
		return // being removed, or unknown: leave the decommission alone
	}
	rec, err := readScaleInRecord(ctx, n.Leave.Records, v.ClusterID)
	switch {
	case rec.Holds(self.Host, self.HeartbeatPort, time.Now()):
		n.log().Info("decommission kept: a scale-in by hand is under way", zap.Int("to", rec.To), zap.String("begun_by", rec.BegunBy),
			zap.Time("until", rec.Until), zap.Int("tablets", self.TabletNum))
		n.Leave.event("Normal", "DecommissionKept", fmt.Sprintf("scale-in of %s to %d by hand (begun %s%s, recorded until %s): "+
			"the decommission of %s:%d stays, %d tablets left", rec.Kind, rec.To, rec.BegunAt.UTC().Format(time.RFC3339), inPod(rec.BegunBy),
			rec.Until.UTC().Format(time.RFC3339), self.Host, self.HeartbeatPort, self.TabletNum))
		return
	case err != nil && !errors.Is(err, ErrNoRecords):
		n.log().Warn("cannot read the scale-in record: the decommission of this backend is left as it is", zap.Error(err))
		n.Leave.event("Warning", "DecommissionLeft", fmt.Sprintf("this backend is decommissioned and the scale-in record cannot be read "+
			"(%v): not cancelled (CANCEL DECOMMISSION BACKEND \"%s:%d\" by hand if it should stay)", err, self.Host, self.HeartbeatPort))
		return
	}
	if err := n.Client.CancelDecommission(ctx, v.FE, self.Host, self.HeartbeatPort); err != nil {
		n.log().Warn("cannot cancel the decommission of this backend", zap.Error(err))
		return
	}
	n.log().Info("decommission cancelled: this backend stays", zap.Int("tablets", self.TabletNum), zap.Int("replicas", p.Replicas))
	n.Leave.event("Normal", "DecommissionCancelled", fmt.Sprintf("ordinal %d < %d replicas: the decommission of %s:%d is cancelled",
		p.Ordinal, p.Replicas, self.Host, self.HeartbeatPort))
}

func inPod(pod string) string {
	if pod == "" {
		return ""
	}
	return " in " + pod
}

// drainRate is how fast tablets leave, from initial at since to left now,
// and the seconds the rest will take at that rate (0: unknown yet).
func drainRate(initial, left int, since time.Time) (perSecond, eta float64) {
	if el := time.Since(since).Seconds(); el > 0 && initial > left {
		perSecond = float64(initial-left) / el
		eta = float64(left) / perSecond
	}
	return perSecond, eta
}
