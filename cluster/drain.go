package cluster

import (
	"fmt"
	"time"
)

// When a decommission is over. A wrong "done" stops a BE that still holds
// the only replica of a tablet, so it is concluded from the master's
// answers over time, never from one answer:
//
//  1. Only a read the master answered (BackendsView.Master) counts towards
//     a conclusion; others only show progress.
//  2. A backend is dropped when its row is absent from ConfirmReads master
//     reads in a row spanning at least ConfirmSpan, and the last row seen
//     had TabletNum 0 (apache/doris
//     fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java
//     runAlterJobV2 drops a decommissioned backend only once it holds no
//     tablet, with drop_backend_after_decommission).
//  3. A backend is kept (drop_backend_after_decommission = false: its row
//     stays, SystemDecommissioned, nothing is ever cloned onto it; or the
//     FE's next round has not come yet) when its row shows
//     SystemDecommissioned and TabletNum 0 in the same confirmed series; an
//     empty row and then no row are one series. It is empty: done, as the operator counts it
//     (apache/doris-operator pkg/common/utils/resource/decommission.go:
//     SystemDecommissioned and TabletNum 0).
//  4. A row that is absent over a confirmed series while the last row seen
//     had tablets has vanished (someone dropped it, or it emptied and the
//     FE dropped it between two reads: SystemHandler's round comes every
//     10 s): never done; the caller warns with the count.
//  5. A row listed without SystemDecommissioned over a confirmed series
//     was cancelled (CANCEL DECOMMISSION BACKEND): the caller stops waiting
//     and says so.
//
// Any read that breaks a series (a row back, tablets again) starts it over.

// Confirmation of a drain's end: this many master reads in a row, at least
// this far apart from first to last.
const (
	ConfirmReads = 3
	ConfirmSpan  = 2 * time.Second
)

// Drain outcomes.
const (
	Draining  = ""
	Dropped   = "dropped"   // (2)
	Kept      = "kept"      // (3)
	Vanished  = "vanished"  // (4)
	Cancelled = "cancelled" // (5)
)

// DrainNode is one backend being decommissioned, as its drain has seen it.
type DrainNode struct {
	Host    string
	Port    int // heartbeat_service_port
	Tablets int // TabletNum of the last row seen
	Seen    bool
	Outcome string

	candidate string    // the outcome the current series points at
	reads     int       // master reads in the series
	since     time.Time // the series' first read
}

// Confirming says what the current series of master reads points at, and
// how many reads it has ("": none).
func (n *DrainNode) Confirming() (outcome string, reads int) {
	if n.Outcome != Draining {
		return "", 0
	}
	return n.candidate, n.reads
}

// Done says the drain of n is over and nothing of it is lost: dropped or
// kept empty.
func (n *DrainNode) Done() bool { return n.Outcome == Dropped || n.Outcome == Kept }

// observe applies one view read at now; changed says the outcome changed.
func (n *DrainNode) observe(v BackendsView, now time.Time) (changed bool) {
	row, listed := v.Find(n.Host, n.Port)
	if listed {
		n.Seen, n.Tablets = true, row.TabletNum
	}
	if !v.Master {
		return false // (1)
	}
	var cand string
	switch {
	case !listed && n.Seen && n.Tablets == 0:
		cand = Dropped
	case !listed:
		cand = Vanished
	case !row.Decommissioned:
		cand = Cancelled
	case row.TabletNum == 0:
		cand = Kept
	}
	if family(cand) != family(n.candidate) || cand == "" {
		n.reads, n.since = 0, now
	}
	n.candidate = cand
	prev := n.Outcome
	if cand == "" {
		n.Outcome = Draining
		return prev != n.Outcome
	}
	n.reads++
	if n.reads >= ConfirmReads && now.Sub(n.since) >= ConfirmSpan {
		n.Outcome = cand
	} else if n.Outcome != Draining && family(n.Outcome) != family(cand) {
		n.Outcome = Draining // a series pointing elsewhere: unconfirmed again
	}
	return prev != n.Outcome
}

// family groups the outcomes one series confirms: an empty row and its
// drop that follows are one series (the FE's next round drops the row).
func family(outcome string) string {
	if outcome == Kept || outcome == Dropped {
		return "empty"
	}
	return outcome
}

// Drain follows the decommission of several backends.
type Drain struct {
	Nodes []*DrainNode
}

// NewDrain follows rows, each as last seen before the decommission.
func NewDrain(rows ...Backend) *Drain {
	d := &Drain{}
	for _, r := range rows {
		d.Nodes = append(d.Nodes, &DrainNode{Host: r.Host, Port: r.HeartbeatPort, Tablets: r.TabletNum, Seen: true})
	}
	return d
}

// Observe applies a view; it returns the nodes whose outcome changed.
func (d *Drain) Observe(v BackendsView, now time.Time) []*DrainNode {
	var changed []*DrainNode
	for _, n := range d.Nodes {
		if n.observe(v, now) {
			changed = append(changed, n)
		}
	}
	return changed
}

// Left is the tablets the last rows seen still held, and the nodes not done.
func (d *Drain) Left() (tablets, nodes int) {
	for _, n := range d.Nodes {
		if !n.Done() {
			tablets += n.Tablets
			nodes++
		}
	}
	return tablets, nodes
}

// Done says every node is done.
func (d *Drain) Done() bool {
	_, nodes := d.Left()
	return nodes == 0
}

// NextPoll is when to read again: poll, or a fifth of it while the rows
// last seen are about to empty (at most two polls' worth of tablets at
// rate, or 10) or a series is being confirmed. The FE drops an emptied
// backend at its next SystemHandler round (every 10 s): the faster the
// reads near the end, the less often the empty row is missed (4).
func (d *Drain) NextPoll(poll time.Duration, rate float64) time.Duration {
	near := max(10, int(2*rate*poll.Seconds()))
	for _, n := range d.Nodes {
		if !n.Done() && (n.Tablets <= near || n.candidate != "") {
			return max(poll/5, time.Millisecond)
		}
	}
	return poll
}

// Describe is one node's outcome for a person.
func (n *DrainNode) Describe() string {
	hp := fmt.Sprintf("%s:%d", n.Host, n.Port)
	switch n.Outcome {
	case Dropped:
		return hp + ": empty, and the FE dropped it"
	case Kept:
		return hp + ": empty (decommissioned, TabletNum 0); the FE drops its row at its next round, or keeps it while " +
			"drop_backend_after_decommission is false (then ALTER SYSTEM DROPP BACKEND \"" + hp + "\" removes it)"
	case Vanished:
		return fmt.Sprintf("%s: its row is gone while it still held %d tablets (dropped by hand?): not counted as done", hp, n.Tablets)
	case Cancelled:
		return hp + ": the decommission was cancelled (CANCEL DECOMMISSION BACKEND, or the pod's start path)"
	}
	return fmt.Sprintf("%s: %d tablets left", hp, n.Tablets)
}
