package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The safe two-step scale-in, by hand (`doris-entrypoint scale-in`): first
// empty the nodes that are to go — decommission the BEs (the FE moves their
// replicas, then drops them), drop the CNs and observers — then shrink the
// StatefulSet, so that every pod that goes away is already empty, however
// short its grace period:
//
//  1. Plan: the nodes of the kind whose ordinal is at least the target, with
//     their tablets; the single-replica partitions; whether the remaining
//     nodes can take the data (as leave.go's step 2 decides).
//  2. Refuse when unsafe (the reason is printed), or stop here with
//     --dry-run.
//  3. BE: the record (scalein_record.go: the pods' restarts keep the
//     decommission), DECOMMISSION each, then follow the master's SHOW
//     BACKENDS until every backend is empty (drain.go), with a progress
//     line (tablets left, rate, ETA, the timeout); a cancelled
//     decommission, a row gone with tablets, the timeout or an interrupt
//     stop it with a non-zero exit that says what is left. CN:
//     DROPP (NodeRole computation, TabletNum 0 checked first). FE: DROP
//     OBSERVER (followers are refused: lower electionNumber first).
//  4. Print the kubectl patch line that shrinks the DorisCluster.

// ScaleInPlan is step (1).
type ScaleInPlan struct {
	Kind        string // be, cn, fe
	To          int
	Cluster     string // the DorisCluster, from the pods' names
	Going       []PlannedNode
	Remaining   int
	MaxReplicas int
	Single      []Partition // single-replica partitions
	// BE: the backends that remain per location tag, and the tags of the
	// backends that go (replicas.go).
	RemainingByTag map[string]int
	Leaving        []string
	Safe           bool
	Reason         string // why not, when !Safe
	fe             string
}

// PlannedNode is a node the plan removes.
type PlannedNode struct {
	Host           string
	Port           int // heartbeat_service_port or edit_log_port
	Ordinal        int
	Tablets        int
	Role           string
	Decommissioned bool
}

// ErrHostIsIP is PlanScaleIn's refusal when the cluster lists a node of
// the kind by its IP (HOST_TYPE=IP, or an FE without enable_fqdn_mode):
// its pod and ordinal cannot be told from SHOW BACKENDS/FRONTENDS, so
// which nodes go cannot be planned.
var ErrHostIsIP = errors.New("registered by IP")

// hostIsIP is ErrHostIsIP for a node listed as host; why says what lists
// it so.
func hostIsIP(what, host string, port int, why string) error {
	if net.ParseIP(host) == nil {
		return nil
	}
	return fmt.Errorf("%w: %s %s is listed by its IP address (%s): which pod and ordinal it is cannot be told, "+
		"so the nodes with ordinal N and above cannot be found; nothing was changed. Scale in by lowering the replicas: "+
		"each pod being removed leaves the cluster in its preStop hook", ErrHostIsIP, what, net.JoinHostPort(host, strconv.Itoa(port)), why)
}

// PlanScaleIn is step (1), asked of the FE at fe.
func PlanScaleIn(ctx context.Context, c *Client, fe, kind string, to int) (*ScaleInPlan, error) {
	if to < 0 {
		return nil, fmt.Errorf("--to %d: want 0 or more", to)
	}
	if kind == "fe" { // be, cn: in their row loop
		fes, err := c.ShowFrontends(ctx, fe)
		if err != nil {
			return nil, err
		}
		for _, f := range fes {
			if err := hostIsIP("frontend", f.Host, f.EditLogPort, "enable_fqdn_mode is false"); err != nil {
				return nil, err
			}
		}
	}
	p := &ScaleInPlan{Kind: kind, To: to, fe: fe, Safe: true}
	switch kind {
	case "be", "cn":
		bes, err := c.ShowBackends(ctx, fe)
		if err != nil {
			return nil, err
		}
		role := "mix"
		if kind == "cn" {
			role = "computation"
		}
		for _, be := range bes {
			if err := hostIsIP("backend", be.Host, be.HeartbeatPort, "HOST_TYPE=IP"); err != nil {
				return nil, err
			}
			set, ord, ok := statefulSetOf(be.Host)
			// NodeRole is "" for a backend that is not alive (BackendsProcDir.java):
			// a dead row's role is its StatefulSet's (rowRole: -cn a CN, -be mix),
			// and a row whose role cannot be told is never planned.
			r := rowRole(be.Host, be.Alive, be.NodeRole)
			if ok && strings.HasSuffix(set, "-"+kind) && ord >= to && r == role {
				p.Cluster = strings.TrimSuffix(set, "-"+kind)
				p.Going = append(p.Going, PlannedNode{Host: be.Host, Port: be.HeartbeatPort, Ordinal: ord, Tablets: be.TabletNum,
					Role: r, Decommissioned: be.Decommissioned})
			} else if be.Alive && !be.Decommissioned && be.NodeRole != "computation" {
				p.Remaining++ // a mix backend that stays
			}
		}
		if kind == "be" && len(p.Going) > 0 {
			parts, err := c.Partitions(ctx, fe)
			if err != nil {
				return nil, err
			}
			for _, part := range parts {
				p.MaxReplicas = max(p.MaxReplicas, part.ReplicationNum)
				if part.ReplicationNum == 1 {
					p.Single = append(p.Single, part)
				}
			}
			// Per location tag, as leave.go's remainingBackends: the tags
			// the going backends leave, the mix backends that stay.
			going := map[string]bool{}
			for _, n := range p.Going {
				going[fmt.Sprintf("%s:%d", n.Host, n.Port)] = true
			}
			p.RemainingByTag = map[string]int{}
			var unknown string
			for _, be := range bes {
				switch {
				case going[fmt.Sprintf("%s:%d", be.Host, be.HeartbeatPort)]:
					if be.Location == "" {
						unknown = fmt.Sprintf("cannot tell the location tag of %s:%d (SHOW BACKENDS Tag)", be.Host, be.HeartbeatPort)
					} else if !slices.Contains(p.Leaving, be.Location) {
						p.Leaving = append(p.Leaving, be.Location)
					}
				case be.Alive && !be.Decommissioned && be.NodeRole != "computation" && be.Location != "":
					p.RemainingByTag[be.Location]++
				}
			}
			sort.Strings(p.Leaving)
			if unknown != "" {
				p.Safe, p.Reason = false, unknown
			} else if why := ReplicaShortfall(parts, p.RemainingByTag, p.Leaving); why != "" {
				p.Safe, p.Reason = false, why
			} else if v, ok, err := c.FrontendConfig(ctx, fe, "disable_tablet_scheduler"); err != nil {
				return nil, err
			} else if ok && strings.EqualFold(v, "true") {
				p.Safe, p.Reason = false, "disable_tablet_scheduler is true: a decommission makes no progress (an upgrade in progress?)"
			}
		}
	case "fe":
		fes, err := c.ShowFrontends(ctx, fe)
		if err != nil {
			return nil, err
		}
		for _, f := range fes {
			set, ord, ok := statefulSetOf(f.Host)
			if !ok || !strings.HasSuffix(set, "-fe") || ord < to {
				continue
			}
			p.Cluster = strings.TrimSuffix(set, "-fe")
			p.Going = append(p.Going, PlannedNode{Host: f.Host, Port: f.EditLogPort, Ordinal: ord, Role: f.Role})
			if f.Role == "FOLLOWER" && p.Safe {
				p.Safe, p.Reason = false, fmt.Sprintf("%s is a follower: lower spec.feSpec.electionNumber first (the operator refuses "+
					"to drop followers), then scale in; followers are dropped as the pods go, quorum permitting", f.Host)
			}
			if f.IsMaster {
				p.Safe, p.Reason = false, f.Host+" is the master"
			}
		}
	default:
		return nil, fmt.Errorf("kind %q: want be, cn or fe", kind)
	}
	sort.Slice(p.Going, func(i, j int) bool { return p.Going[i].Ordinal < p.Going[j].Ordinal })
	return p, nil
}

// Print writes the plan for a person.
func (p *ScaleInPlan) Print(w io.Writer) {
	fmt.Fprintf(w, "scale-in %s to %d", p.Kind, p.To)
	if p.Cluster != "" {
		fmt.Fprintf(w, " (DorisCluster %s)", p.Cluster)
	}
	fmt.Fprintln(w)
	if len(p.Going) == 0 {
		fmt.Fprintln(w, "  nothing to do: no node has an ordinal at or above the target")
		return
	}
	for _, n := range p.Going {
		state := ""
		if n.Decommissioned {
			state = ", decommissioning"
		}
		fmt.Fprintf(w, "  goes: %-60s ordinal %d  %-11s %d tablets%s\n", fmt.Sprintf("%s:%d", n.Host, n.Port), n.Ordinal, n.Role, n.Tablets, state)
	}
	if p.Kind == "be" {
		var tags []string
		for _, t := range p.Leaving {
			tags = append(tags, fmt.Sprintf("%s %d", t, p.RemainingByTag[t]))
		}
		fmt.Fprintf(w, "  remaining backends: %d (on the tags that lose some: %s), largest replication number: %d, single-replica partitions: %d\n",
			p.Remaining, strings.Join(tags, ", "), p.MaxReplicas, len(p.Single))
		for i, s := range p.Single {
			if i == 5 {
				fmt.Fprintf(w, "    … and %d more\n", len(p.Single)-5)
				break
			}
			fmt.Fprintf(w, "    %s.%s partition %s (moved off the nodes that go, never lost)\n", s.DB, s.Table, s.Name)
		}
	}
	if p.Safe {
		fmt.Fprintln(w, "  safe: yes")
	} else {
		fmt.Fprintf(w, "  safe: NO — %s\n", p.Reason)
	}
}

// ErrUnsafe is Execute's refusal (2).
var ErrUnsafe = errors.New("unsafe")

// ErrNotDone: the scale-in stopped before every node was empty (a
// cancelled decommission, a row gone with tablets, the timeout).
var ErrNotDone = errors.New("not done")

// DefaultScaleInTimeout bounds the wait for the FE to empty the backends
// (--timeout).
const DefaultScaleInTimeout = 6 * time.Hour

// ExecOptions are Execute's.
type ExecOptions struct {
	FEAddrs []string       // every FE to ask; the drain's conclusions are the master's (drain.go)
	Poll    time.Duration  // 0: 1 s
	Timeout time.Duration  // 0: DefaultScaleInTimeout
	Records UpgradeRecords // the scale-in record (scalein_record.go); nil: none can be kept
	By      string         // the pod the CLI runs in
}

// Execute is steps (2)–(4); progress goes to w, every poll.
func (p *ScaleInPlan) Execute(ctx context.Context, c *Client, w io.Writer, o ExecOptions) error {
	if !p.Safe {
		return fmt.Errorf("%w: %s", ErrUnsafe, p.Reason)
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultScaleInTimeout
	}
	if len(o.FEAddrs) == 0 {
		o.FEAddrs = []string{p.fe}
	}
	switch p.Kind {
	case "be":
		if err := p.decommission(ctx, c, w, o); err != nil {
			return err
		}
	case "cn":
		for _, n := range p.Going {
			if n.Tablets != 0 || n.Role != "computation" {
				return fmt.Errorf("%w: %s holds %d tablets", ErrUnsafe, n.Host, n.Tablets)
			}
			if err := c.DropComputeNode(ctx, p.fe, n.Host, n.Port); err != nil {
				return fmt.Errorf("drop %s: %w", n.Host, err)
			}
			fmt.Fprintf(w, "dropped: %s:%d\n", n.Host, n.Port)
		}
	case "fe":
		for _, n := range p.Going {
			if err := c.DropFrontend(ctx, p.fe, false, n.Host, n.Port); err != nil {
				return fmt.Errorf("drop %s: %w", n.Host, err)
			}
			fmt.Fprintf(w, "dropped: %s:%d\n", n.Host, n.Port)
		}
	}
	if len(p.Going) > 0 {
		fmt.Fprintf(w, "done; now shrink the cluster:\n  %s\n", p.patchLine())
	}
	return nil
}

func (p *ScaleInPlan) patchLine() string {
	spec := map[string]string{"be": "beSpec", "cn": "cnSpec", "fe": "feSpec"}[p.Kind]
	return fmt.Sprintf("kubectl patch doriscluster %s --type merge -p '{\"spec\":{\"%s\":{\"replicas\":%d}}}'", p.Cluster, spec, p.To)
}

// decommission is step (3) for BEs: the record first, then DECOMMISSION,
// then the drain followed until every backend is empty, or it stops.
func (p *ScaleInPlan) decommission(ctx context.Context, c *Client, w io.Writer, o ExecOptions) error {
	if len(p.Going) == 0 {
		return nil
	}
	v, err := c.MasterBackends(ctx, o.FEAddrs)
	if err != nil {
		return fmt.Errorf("read SHOW BACKENDS: %w", err)
	}
	rec := ScaleInRecord{ClusterID: v.ClusterID, Kind: p.Kind, To: p.To, BegunAt: time.Now().UTC(), BegunBy: o.By,
		Until: time.Now().UTC().Add(o.Timeout + 10*time.Minute)}
	var rows []Backend
	total := 0
	for _, n := range p.Going {
		rec.Backends = append(rec.Backends, fmt.Sprintf("%s:%d", n.Host, n.Port))
		rows = append(rows, Backend{Host: n.Host, HeartbeatPort: n.Port, TabletNum: n.Tablets})
		total += n.Tablets
	}
	rerr := writeScaleInRecord(ctx, o.Records, rec)
	recorded := rerr == nil
	if recorded {
		fmt.Fprintf(w, "recorded (until %s): a pod of these that restarts meanwhile keeps its decommission\n", rec.Until.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "not recorded (%v): a pod of these that restarts meanwhile cancels its decommission, and this command then stops\n", rerr)
	}
	for _, n := range p.Going {
		if n.Decommissioned {
			continue
		}
		if err := c.Decommission(ctx, p.fe, n.Host, n.Port); err != nil {
			return fmt.Errorf("decommission %s: %w", n.Host, err)
		}
		fmt.Fprintf(w, "decommission sent: %s:%d\n", n.Host, n.Port)
	}
	d := NewDrain(rows...)
	err = p.follow(ctx, c, w, d, total, o)
	for _, n := range d.Nodes {
		fmt.Fprintf(w, "  %s\n", n.Describe())
	}
	if err == nil || errors.Is(err, ErrNotDone) && !stillDraining(d) {
		if recorded {
			if derr := deleteScaleInRecord(context.WithoutCancel(ctx), o.Records, rec.ClusterID); derr != nil {
				fmt.Fprintf(w, "cannot remove the scale-in record: %v\n", derr)
			}
		}
	}
	return err
}

// stillDraining says a node's decommission goes on in the FE.
func stillDraining(d *Drain) bool {
	for _, n := range d.Nodes {
		if n.Outcome == Draining {
			return true
		}
	}
	return false
}

// follow is step (3)'s progress line, until every node is done, one is
// cancelled, the timeout passes or ctx ends; a vanished node is not done.
func (p *ScaleInPlan) follow(ctx context.Context, c *Client, w io.Writer, d *Drain, total int, o ExecOptions) error {
	start := time.Now()
	deadline := start.Add(o.Timeout)
	wait := time.NewTimer(0)
	defer wait.Stop()
	lastLine, lastAt := "", time.Time{}
	for {
		select {
		case <-ctx.Done():
			return p.stopped(w, d, total, "interrupted", start)
		case <-wait.C:
		}
		v, err := c.MasterBackends(ctx, o.FEAddrs)
		if err == nil {
			d.Observe(v, time.Now())
			left, nodes := d.Left()
			rate, secs := drainRate(total, left, start)
			eta := "?"
			if rate > 0 {
				eta = (time.Duration(secs * float64(time.Second))).Round(time.Second).String()
			}
			note := ""
			if !v.Master {
				note = " (a non-master answered: not counted)"
			}
			line := fmt.Sprintf("%d of %d tablets left on %d backends", left, total, nodes)
			if line != lastLine || time.Since(lastAt) >= 10*time.Second {
				fmt.Fprintf(w, "%s, %.1f/s, eta %s, timeout in %s%s\n", line, rate, eta, time.Until(deadline).Round(time.Second), note)
				lastLine, lastAt = line, time.Now()
			}
			var cancelled, vanished []string
			for _, n := range d.Nodes {
				switch n.Outcome {
				case Cancelled:
					cancelled = append(cancelled, fmt.Sprintf("%s:%d", n.Host, n.Port))
				case Vanished:
					vanished = append(vanished, fmt.Sprintf("%s:%d", n.Host, n.Port))
				}
			}
			switch {
			case len(cancelled) > 0:
				return fmt.Errorf("%w: the decommission of %s was cancelled (CANCEL DECOMMISSION BACKEND, or its pod's start path "+
					"without the record); nothing was dropped; run the command again to decommission again", ErrNotDone, strings.Join(cancelled, ", "))
			case d.Done():
				return nil
			case len(vanished) > 0 && !stillDraining(d):
				return fmt.Errorf("%w: %s left SHOW BACKENDS while still holding tablets (dropped by hand?): not counted as done; "+
					"check SHOW PROC '/cluster_health/tablet_health' before shrinking", ErrNotDone, strings.Join(vanished, ", "))
			}
		} else {
			fmt.Fprintf(w, "cannot read SHOW BACKENDS (retrying): %v\n", err)
		}
		if !time.Now().Before(deadline) {
			return p.stopped(w, d, total, fmt.Sprintf("stopped waiting after %s (--timeout)", o.Timeout), start)
		}
		wait.Reset(min(d.NextPoll(o.Poll, 0), time.Until(deadline)))
	}
}

// stopped is the honest message of a wait that ends before the drain.
func (p *ScaleInPlan) stopped(w io.Writer, d *Drain, total int, why string, start time.Time) error {
	left, nodes := d.Left()
	return fmt.Errorf("%w: %s after %s: %d of %d tablets left on %d backends; the decommission goes on in the FE (the record keeps "+
		"these pods' restarts from cancelling it); run the same command again to follow it, or "+
		"`doris-entrypoint scale-in %s --to %d --cancel` to undo it; do not shrink the cluster yet", ErrNotDone, why,
		time.Since(start).Round(time.Second), left, total, nodes, p.Kind, p.To)
}

// Cancel undoes a scale-in by hand: CANCEL DECOMMISSION BACKEND for every
// planned backend that is decommissioned, and the record removed.
func (p *ScaleInPlan) Cancel(ctx context.Context, c *Client, w io.Writer, o ExecOptions) error {
	if p.Kind != "be" {
		return fmt.Errorf("--cancel: only a BE scale-in can be undone (CNs and observers are dropped at once)")
	}
	if len(o.FEAddrs) == 0 {
		o.FEAddrs = []string{p.fe}
	}
	for _, n := range p.Going {
		if !n.Decommissioned {
			continue
		}
		if err := c.CancelDecommission(ctx, p.fe, n.Host, n.Port); err != nil {
			return fmt.Errorf("cancel the decommission of %s: %w", n.Host, err)
		}
		fmt.Fprintf(w, "decommission cancelled: %s:%d\n", n.Host, n.Port)
	}
	v, err := c.MasterBackends(ctx, o.FEAddrs)
	if err != nil {
		return fmt.Errorf("read SHOW FRONTENDS for the cluster id: %w", err)
	}
	if err := deleteScaleInRecord(ctx, o.Records, v.ClusterID); err != nil && !errors.Is(err, ErrNoRecords) {
		return fmt.Errorf("remove the scale-in record: %w", err)
	}
	fmt.Fprintln(w, "the scale-in is undone; the backends stay")
	return nil
}
