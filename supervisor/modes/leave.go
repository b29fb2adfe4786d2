package modes

import (
	"context"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor"
	"go.uber.org/zap"
)

// childStopReserve is the part of the stop budget BeforeStop leaves for the
// child's own graceful stop: a tenth, at least 5 s and at most 30 s.
func childStopReserve(budget time.Duration) time.Duration {
	return min(max(budget/10, 5*time.Second), 30*time.Second)
}

// beforeStop runs Component.BeforeStop while c still runs, within the stop
// budget less the child's reserve; the progress goes into the state. left
// is BeforeStop's.
func (m *machine) beforeStop(c *supervisor.Child) (left bool) {
	if m.Component.BeforeStop == nil {
		return false
	}
	deadline, signalled := m.sup.StopInfo()
	if signalled {
		m.log.Info("stopped by SIGTERM without the preStop hook: the child is already stopping, nothing runs before its stop")
		return false
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-childStopReserve(time.Until(deadline))))
	defer cancel()
	return m.Component.BeforeStop(ctx, func(p cluster.Progress) {
		m.writeState(State{Mode: "normal", Phase: PhaseStopping, ChildPID: c.Pid(), Leave: &p})
	})
}

// afterStop runs Component.AfterStop once the child has exited on a stop,
// within what is left of the stop budget.
func (m *machine) afterStop() {
	if m.Component.AfterStop == nil {
		return
	}
	ctx, cancel, ok := m.budgetLeft()
	if !ok {
		return
	}
	defer cancel()
	m.Component.AfterStop(ctx, func(p cluster.Progress) {
		m.writeState(State{Mode: "normal", Phase: PhaseExited, Leave: &p})
	})
}

// debugStop runs Component.DebugStop after a stop in debug mode (8), within
// what is left of the stop budget, unless the conf could not be restored
// (restoreErr): its ports are the moved ones then, and the node's address
// in the cluster cannot be read from it.
func (m *machine) debugStop(st State, restoreErr error) {
	if m.Component.DebugStop == nil {
		return
	}
	if restoreErr != nil {
		m.log.Warn("stopped in debug mode with the conf not restored: a scale-in is not recognised", zap.Error(restoreErr))
		return
	}
	ctx, cancel, ok := m.budgetLeft()
	if !ok {
		return
	}
	defer cancel()
	m.Component.DebugStop(ctx, func(p cluster.Progress) {
		st.Leave = &p
		m.writeState(st)
	})
}

// budgetLeft is a context that ends with the stop budget; false (logged)
// when nothing of it is left.
func (m *machine) budgetLeft() (context.Context, context.CancelFunc, bool) {
	deadline, _ := m.sup.StopInfo()
	if time.Until(deadline) <= 0 {
		m.log.Warn("no stop budget left for what runs after the stop", zap.Time("deadline", deadline))
		return nil, nil, false
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	return ctx, cancel, true
}
