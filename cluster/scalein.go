package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
//  3. BE: DECOMMISSION each, then follow SHOW BACKENDS until the FE dropped
//     them all, with a progress line (tablets left, rate, ETA). CN:
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
	Safe        bool
	Reason      string // why not, when !Safe
	fe          string
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
			if p.Remaining < p.MaxReplicas {
				p.Safe, p.Reason = false, fmt.Sprintf("%d backends would remain, and a partition has %d replicas", p.Remaining, p.MaxReplicas)
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
		fmt.Fprintf(w, "  remaining backends: %d, largest replication number: %d, single-replica partitions: %d\n",
			p.Remaining, p.MaxReplicas, len(p.Single))
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

// Execute is steps (2)–(4); progress goes to w, every poll.
func (p *ScaleInPlan) Execute(ctx context.Context, c *Client, w io.Writer, poll time.Duration) error {
	if !p.Safe {
		return fmt.Errorf("%w: %s", ErrUnsafe, p.Reason)
	}
	if poll <= 0 {
		poll = time.Second
	}
	switch p.Kind {
	case "be":
		total := 0
		for _, n := range p.Going {
			total += n.Tablets
			if n.Decommissioned {
				continue
			}
			if err := c.Decommission(ctx, p.fe, n.Host, n.Port); err != nil {
				return fmt.Errorf("decommission %s: %w", n.Host, err)
			}
			fmt.Fprintf(w, "decommission sent: %s:%d\n", n.Host, n.Port)
		}
		if err := p.follow(ctx, c, w, total, poll); err != nil {
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
		spec := map[string]string{"be": "beSpec", "cn": "cnSpec", "fe": "feSpec"}[p.Kind]
		fmt.Fprintf(w, "done; now shrink the cluster:\n  kubectl patch doriscluster %s --type merge -p '{\"spec\":{\"%s\":{\"replicas\":%d}}}'\n",
			p.Cluster, spec, p.To)
	}
	return nil
}

// follow is step (3)'s progress line, until no planned BE is listed.
func (p *ScaleInPlan) follow(ctx context.Context, c *Client, w io.Writer, total int, poll time.Duration) error {
	start := time.Now()
	for {
		bes, err := c.ShowBackends(ctx, p.fe)
		if err == nil {
			left, nodes := 0, 0
			for _, be := range bes {
				for _, n := range p.Going {
					if be.Host == n.Host && be.HeartbeatPort == n.Port {
						left += be.TabletNum
						nodes++
					}
				}
			}
			rate, secs := drainRate(total, left, start)
			eta := "?"
			if rate > 0 {
				eta = (time.Duration(secs * float64(time.Second))).Round(time.Second).String()
			}
			fmt.Fprintf(w, "%d of %d tablets left on %d backends, %.1f/s, eta %s\n", left, total, nodes, rate, eta)
			if nodes == 0 {
				return nil
			}
		} else {
			fmt.Fprintf(w, "cannot read SHOW BACKENDS (retrying): %v\n", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted; the decommission goes on in the FE (CANCEL DECOMMISSION BACKEND to undo): %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}
