package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// UpgradeGuard is step (3) of upgrade.go, in a supervisor that runs an FE:
// while an upgrade is recorded, it keeps the three flags on whatever FE is
// master. They live in the master's memory only (ADMIN SET FRONTEND CONFIG
// is lost on a restart and on a master change, and SET ALL FRONTENDS
// reached only the master for these keys before Doris 3.1), so without it
// the FE roll turns the balance and the tablet scheduler back on halfway.
type UpgradeGuard struct {
	Node    *Node
	Records UpgradeRecords
	Event   func(eventType, reason, message string)
	// Interval between two rounds; the first runs at once (the FE's
	// start). 0: 5 s.
	Interval time.Duration
}

// guardState is what the guard remembers between rounds.
type guardState struct {
	failed   string // the last failure logged: each distinct one once
	recorded bool   // the record existed at the last round
	corrupt  bool   // and could not be read: told once
	master   string // the master whose flags were last seen on
	offAt    string // the master whose flags were seen off at the last round (another FE's supervisor acts)
}

// Run guards until ctx ends. It returns at once where no FE runs (the
// component's liveness port is no MySQL FE port) or no record can be kept.
func (g *UpgradeGuard) Run(ctx context.Context) {
	if g == nil || g.Records == nil || g.Node == nil || !g.Node.Component.MySQLLiveness {
		return
	}
	interval := g.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	var st guardState
	for {
		g.round(ctx, &st)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (g *UpgradeGuard) event(typ, reason, msg string) {
	if g.Event != nil {
		g.Event(typ, reason, msg)
	}
}

// fail logs a failure once until another one, or a success, comes.
func (st *guardState) fail(log *zap.Logger, msg string, err error) {
	if s := msg + ": " + err.Error(); s != st.failed {
		st.failed = s
		log.Warn(msg, zap.Error(err))
	}
}

// addrs are the FEs to ask: this FE first, then FE_ADDRS.
func (g *UpgradeGuard) addrs() []string {
	var out []string
	if qp, err := g.Node.Port(g.Node.Component.Liveness); err == nil {
		out = append(out, net.JoinHostPort("127.0.0.1", strconv.Itoa(qp)))
	}
	return append(out, g.Node.FEAddrs...)
}

// isSelf says the master is this FE.
func (g *UpgradeGuard) isSelf(m *UpgradeNode) bool {
	host, err := g.Node.Host()
	if err != nil {
		return false
	}
	el, err := g.Node.Port(EditLogPort)
	return err == nil && m.Host == host && m.Port == el
}

// round is one look: the record, the master, its flags; and what is off
// set again.
func (g *UpgradeGuard) round(ctx context.Context, st *guardState) {
	log := g.Node.log()
	c := g.Node.Client
	v, err := c.view(ctx, g.addrs(), false)
	if err != nil {
		st.fail(log, "upgrade guard: no FE answered; trying again", err)
		return
	}
	rec := readRecord(ctx, g.Records, v.ClusterID)
	switch {
	case !rec.known():
		st.fail(log, "upgrade guard: cannot read the upgrade record; trying again", errors.New(rec.Err))
		return
	case !rec.Found:
		if st.recorded {
			log.Info("upgrade guard: the upgrade record is gone; the flags are no longer kept on")
		}
		*st = guardState{failed: st.failed}
		return
	case !st.recorded:
		log.Info("upgrade guard: an upgrade is recorded; keeping the flags on the master", zap.String("record", rec.String()))
		st.recorded = true
	}
	if rec.Corrupt != "" && !st.corrupt {
		st.corrupt = true
		log.Warn("upgrade guard: the upgrade record cannot be read; keeping the flags on (upgrade end removes it)", zap.String("reason", rec.Corrupt))
	}
	if v.master == nil {
		return // an election: the next round finds the new master
	}
	master := net.JoinHostPort(v.master.Host, strconv.Itoa(v.master.Port))
	flags := c.masterFlags(ctx, v)
	if flags.Err != "" {
		st.fail(log, "upgrade guard: cannot read the flags on the master", errors.New(flags.Err))
		return
	}
	st.failed = ""
	off := flags.Off()
	if len(off) == 0 {
		st.master, st.offAt = master, ""
		return
	}
	if !g.isSelf(v.master) && st.offAt != master {
		st.offAt = master // the master's own supervisor goes first
		return
	}
	why := "the master restarted, or the flags were set by hand"
	switch {
	case st.master == "":
		why = "found at this FE's start, or on a master no FE supervisor had seen yet"
	case st.master != master:
		why = "the master changed from " + st.master
	}
	after, err := c.setFlags(ctx, flags.Master, off, true)
	if err != nil {
		log.Warn("upgrade guard: cannot set the flags again", zap.String("master", master), zap.Strings("flags", off), zap.Error(err))
		g.event("Warning", "UpgradeFlagsNotReapplied", fmt.Sprintf("an upgrade is recorded, but %s could not be set again on the master %s: %v; "+
			"trying again", strings.Join(off, ", "), master, err))
		return
	}
	// upgrade end may have removed the record since it was read (it then
	// sets the flags false): read it again, and undo what was just set if
	// it is gone, so that no round that began before the end turns the
	// balance off after it.
	if again := readRecord(ctx, g.Records, v.ClusterID); again.known() && !again.Found {
		back, err := c.setFlags(ctx, flags.Master, off, false)
		if err != nil {
			log.Warn("upgrade guard: the upgrade ended while the flags were set again; cannot set them back to false", zap.String("master", master),
				zap.Strings("flags", off), zap.String("flags_now", back.String()), zap.Error(err))
			g.event("Warning", "UpgradeFlagsNotReapplied", fmt.Sprintf("the upgrade ended while %s were set again on the master %s, and they could "+
				"not be set back to false (%v): they read %s; run doris-entrypoint upgrade end", strings.Join(off, ", "), master, err, back))
			return
		}
		log.Info("upgrade guard: the upgrade ended while the flags were set again; set back to false", zap.String("master", master),
			zap.Strings("flags", off), zap.String("flags_now", back.String()))
		*st = guardState{}
		return
	}
	st.master, st.offAt = master, ""
	log.Info("upgrade guard: flags re-applied on the master", zap.String("master", master), zap.Strings("flags", off),
		zap.String("why", why), zap.String("flags_now", after.String()))
	g.event("Normal", "UpgradeFlagsReapplied", fmt.Sprintf("an upgrade is recorded (%s) and %s read false on the master %s (%s): set true again",
		rec, strings.Join(off, ", "), master, why))
}
