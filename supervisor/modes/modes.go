// Package modes is the mode machine of the FE/BE supervisor: the pod's
// annotations (package podinfo) are the single source of truth, applied
// both ways while the container runs.
//
// Debug mode is the operator's (annotation selectdb.com.doris/runmode=debug).
// Upstream, apache/doris docker/runtime/fe/resource/fe_entrypoint.sh and
// docker/runtime/be/resource/be_entrypoint.sh run apache/doris-operator's
// doris-debug (cmd/doris-debug) before they start Doris: it holds the port
// the operator's tcpSocket liveness probe checks
// (pkg/common/utils/resource/pod.go), so entering takes a pod restart and
// leaving a pod deletion. Here both happen while the container runs.
//
// The debug-mode protocol. Every path into and out of debug mode follows
// these steps, in this order; the code marks each with its number.
//
//  1. At start, a marker left by a supervisor killed in debug mode (after
//     (3), before (7) finished) is restored first (confpatch.Restore), so
//     nothing reads a conf with moved ports; then Component.Prepare runs;
//     then the annotations decide the mode. If the restore fails, the pod
//     is held as in debug mode ((4), (5): Event ConfRestoreFailed, the
//     reason in State.Problem) whatever the annotations say, and the
//     restore is retried as in (7); Prepare and the mode wait until it
//     worked (Event ConfRestored).
//  2. Normal → debug (annotation set): first the offset is chosen, with the
//     component still running, against the conf as it is (chooseOffset):
//     Config.Offset (DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET) when it works, else
//     the working offset nearest to it, downward too (a negative offset
//     moves the ports down). An offset works when every moved port stays in
//     1..65535, lands on no port in use before the move (the conf's *_port
//     keys, Component.Listens at their defaults, the probe endpoint's), on
//     no other moved port and on no port another process listens on. Where
//     none works the entry is refused and nothing else happens: the
//     component goes on in normal mode (a Bootstrap in progress goes on),
//     the annotation still set, with a Warning Event DebugModeRefused and
//     the reason in State.Problem; the choice is made again at the next
//     change of the annotations, or at the next start. A setting of debug
//     mode never stops a normal start: at start, a refusal starts the
//     component normally. Otherwise the child is stopped the way SIGTERM
//     stops it (Supervisor.StopChild: SIGTERM to its group, the stop timeout
//     for its own process tree, then SIGKILL; what kubectl exec sessions
//     left with PID 1 is not touched), or a Component.Bootstrap in progress
//     is cancelled and awaited. Starting in debug mode, there is nothing to
//     stop.
//  3. The ports are moved by the chosen offset in the conf (confpatch.Enter:
//     the original and the offset saved in the marker first, then the conf
//     replaced atomically; the restores of (1), (7) and (8) read the marker,
//     never the variable, which may have changed since). The choice is made
//     again first (the conf may have changed during (2)), keeping the
//     offset chosen there if it still works. If no offset works any more,
//     or Enter fails, the conf is unchanged and debug mode goes on without
//     moved ports (State.Problem): the pod must not crash-loop over a
//     patch.
//  4. The liveness port (the original value of the first Component.Ports
//     key) is held (package holder): the tcpSocket probes pass, the HTTP port
//     stays closed, so the pod is Running but NotReady.
//  5. The state is published (Event DebugModeEntered, state file, OnState)
//     and the supervisor idles, reaping what kubectl exec users start;
//     `doris-entrypoint debug run` starts the component by hand on the moved
//     ports (and refuses when none were moved).
//  6. Debug → normal (annotation removed): the machine waits until no
//     hand-started component is left (no moved port in use, the pid file
//     names no live process). A stop meanwhile goes to (8).
//  7. Restore: the conf is restored byte for byte and the marker removed
//     (confpatch.Restore); then the holder is closed and normal mode follows
//     (Event DebugModeLeft): Bootstrap, then the child starts again. A
//     restore that fails (a full disk) keeps the pod in debug mode, port
//     held, with the reason in State.Problem and a Warning Event
//     ConfRestoreFailed, and is retried with backoff (after (6) again)
//     until it works; the annotation set again cancels the leave.
//  8. A stop in debug mode: every other process gets SIGTERM and the stop
//     timeout (Supervisor.TerminateAll), then (7)'s restore, once, and the
//     holder closed, without the start; then Component.DebugStop (a CN or
//     an observer being scaled in drops itself: it reads the node's address
//     from the restored conf, so it is skipped when the restore failed);
//     the exit code is 0. A conf still not restored keeps its marker for
//     the next start's (1).
//
// In normal mode the component runs as the supervisor's main child; its exit
// or a stop ends the container, with the child's exit code, as before.
//
// A stop is SIGTERM, a prestop (Supervisor.RequestStop), or Run's ctx being
// cancelled, which Run turns into a RequestStop: all three take the same
// path. The machine publishes its state at every transition: to
// Config.OnState (the probe endpoint) and to a small state file
// (`doris-entrypoint status`, `debug run`).
package modes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/modes/holder"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"go.uber.org/zap"
)

// Component describes what differs between FE and BE for the machine.
type Component struct {
	Name    string             // "fe" or "be"
	Command supervisor.Command // start_fe.sh --console, in DORIS_ROOT
	Conf    string             // fe.conf / be.conf
	// Ports are moved in debug mode; the first is the liveness port the
	// operator probes with tcpSocket, which the holder keeps open.
	Ports []confpatch.Port
	// Listens are the component's other ports: no moved port may land on
	// one (3).
	Listens []confpatch.Port
	Hold    holder.Kind
	PIDFile string // where a hand-started server writes its pid
	// Prepare, when set, runs once at start, after a conf left by an
	// interrupted debug mode is restored (ConfigMap files, fixed conf keys).
	// Its error is logged and the machine goes on, as the scripts do,
	// unless it wraps ErrFatal: then the container exits 1.
	Prepare func() error
	// Bootstrap, when set, runs before every start in normal mode (FE join,
	// BE registration) and returns arguments to add to Command (--helper);
	// its ctx ends when debug mode is asked for (2) or a stop is requested
	// (including Run's ctx being cancelled), so that no wait there blocks
	// either; Run waits for it to return. st is the pod's latest annotations.
	Bootstrap func(ctx context.Context, st podinfo.State) ([]string, error)
	// BeforeStop, when set, runs when a stop is requested while the child
	// runs and before it is stopped, unless a SIGTERM already reached it (a
	// BE being scaled in decommissions here, still running); its ctx ends
	// at the stop deadline minus a reserve for the child's own stop.
	// report publishes its progress in the state (State.Leave).
	// It returns true when the node has left the cluster: the container
	// then exits 0, whatever the child's code.
	BeforeStop func(ctx context.Context, report func(cluster.Progress)) (left bool)
	// AfterStop, when set, runs once the child has exited after a stop
	// request (a CN or an observer being scaled in drops itself); its ctx
	// ends at the stop deadline.
	AfterStop func(ctx context.Context, report func(cluster.Progress))
	// DebugStop, when set, runs once a stop in debug mode stopped every
	// process and restored the conf (8): nothing ran before that stop, the
	// component was not running (a CN or an observer being scaled in drops
	// itself, a BE says it cannot decommission); its ctx ends at the stop
	// deadline.
	DebugStop func(ctx context.Context, report func(cluster.Progress))
}

// Config configures Run.
type Config struct {
	Supervisor *supervisor.Supervisor
	Podinfo    *podinfo.Watcher
	Component  Component
	// Offset is DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET: the offset debug mode
	// tries first (2).
	Offset    int
	StateFile string // for `doris-entrypoint status`; empty: none
	// ProbeAddr is the supervisor's probe endpoint: a moved port must not
	// land on its port (3).
	ProbeAddr string
	// OnState, when set, receives every state the machine enters; it must
	// not block (the probe endpoint stores it).
	OnState func(State)
	// Event, when set, is told of what deserves a Kubernetes Event on the
	// pod (type Normal or Warning, a CamelCase reason, a message); it must
	// not block.
	Event  func(eventType, reason, message string)
	Logger *zap.Logger
}

// Phases of the machine, as State.Phase reports them.
const (
	PhaseBootstrapping = "bootstrapping" // normal mode, before the child starts
	PhaseRunning       = "running"       // normal mode, the child runs
	PhaseDebug         = "debug"         // debug mode (also while waiting to leave it)
	PhaseStopping      = "stopping"      // a stop was requested; the child is being stopped
	PhaseExited        = "exited"        // the child has exited; the container exits next
)

// State is what the state file records (and `status` prints).
type State struct {
	Component string    `json:"component"`
	Mode      string    `json:"mode"`
	Phase     string    `json:"phase"`
	Since     time.Time `json:"since"`
	ChildPID  int       `json:"child_pid,omitempty"`
	// RunmodeKey is the annotation that set debug mode (podinfo.State).
	RunmodeKey string `json:"runmode_key,omitempty"`
	// Restarts counts the child's starts after the first (debug round
	// trips); LastExit is the exit code of the child that ran last.
	Restarts int               `json:"restarts"`
	LastExit *int              `json:"last_exit_code,omitempty"`
	Ports    []confpatch.Moved `json:"ports,omitempty"`
	// Offset is the offset the ports were moved by (2), (3).
	Offset  int    `json:"offset,omitempty"`
	Marker  string `json:"marker,omitempty"`
	Conf    string `json:"conf"`
	Problem string `json:"problem,omitempty"`
	// Restored says what became of an edit someone made to the conf in
	// debug mode (kept, or where it was saved), since the last leave.
	Restored string `json:"restored,omitempty"`
	// Leave is the progress of a scale-in (a decommission, a drop).
	Leave   *cluster.Progress `json:"leave,omitempty"`
	Command []string          `json:"command"`
	Dir     string            `json:"dir"`
}

// ErrFatal marks a Prepare error that must stop the container (the scripts
// exit 1 there, e.g. workload groups without cgroup support).
var ErrFatal = errors.New("fatal")

type machine struct {
	Config
	log    *zap.Logger
	sup    *supervisor.Supervisor
	latest podinfo.State // the annotations as last seen
	starts int           // children started
	last   *int          // exit code of the last child
	// unrestored is why the conf a crash left patched could not be
	// restored at start (1); nil once it was.
	unrestored error
	restored   string // what became of an edit made in debug mode (restore)
	// chosen is the offset (2) chose for the entry under way; refused is
	// why (2) refused the last entry, while the annotation stays set
	// (State.Problem in normal mode).
	chosen  int
	refused string
	inUse   func(port int) error // whether another process listens on port (2)
}

// Run runs the machine until the container should stop, and returns the
// exit code.
//
// Cancelling ctx stops the machine exactly as a stop request (SIGTERM,
// prestop) does, because Run turns it into one (Supervisor.RequestStop):
// a running child gets SIGTERM, the stop timeout for its whole tree, then
// SIGKILL, and Run returns its exit code (143 after SIGTERM); a start not
// yet made, or a Bootstrap in progress (cancelled and awaited), returns 143
// without starting the child; in debug mode the other processes are
// stopped, the conf is restored and Run returns 0 (8). The stop request
// stays on the Supervisor: it serves one Run.
func Run(ctx context.Context, cfg Config) int {
	m := &machine{Config: cfg, log: cfg.Logger, sup: cfg.Supervisor, inUse: portInUse}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	// From here on every wait watches StopRequested alone, so that a
	// cancelled ctx and SIGTERM take one path. Checked once synchronously
	// too: a ctx cancelled before Run must not let the child start.
	if ctx.Err() != nil {
		m.sup.RequestStop("context cancelled")
	}
	defer context.AfterFunc(ctx, func() { m.sup.RequestStop("context cancelled") })()
	// (1) A conf left patched by a supervisor killed in debug mode. Until
	// it is restored nothing may read it: the pod stays in debug mode
	// (debug retries the restore), and Prepare and the start wait for it.
	if ok, err := m.restore(); err != nil {
		m.unrestored = err
		m.log.Error("cannot restore the conf left by an interrupted debug mode: staying in debug mode until it can be",
			zap.String("mode", "debug"), zap.String("conf", m.Component.Conf), zap.Error(err))
	} else if ok {
		m.log.Warn("conf restored after a crash in debug mode", zap.String("conf", m.Component.Conf))
		m.event("Warning", "ConfRestored", "conf restored after a crash in debug mode: "+m.Component.Conf)
	}
	m.latest = m.Podinfo.Current()
	mode := m.latest.Mode
	prepared := false
	entering := false // (2) chose the offset: enter
	for {
		if !prepared && m.unrestored == nil {
			prepared = true
			if m.Component.Prepare != nil {
				if err := m.Component.Prepare(); err != nil {
					m.log.Error("preparing the conf", zap.Error(err))
					if errors.Is(err, ErrFatal) {
						return 1
					}
				}
			}
		}
		// (2) An entry at start (or again after a restore at start) needs
		// an offset first; without one the component starts normally.
		if m.unrestored != nil || (mode == podinfo.Debug && (entering || m.pick())) {
			entering = false
			code, exit := m.debug()
			if exit {
				return code
			}
			mode = m.latest.Mode // debug again after a restore at start
			continue
		}
		code, exit := m.normal(ctx)
		if exit {
			return code
		}
		mode, entering = podinfo.Debug, true // normal chose the offset (2)
	}
}

// normal runs the component until it exits, a stop is requested, or debug
// mode is asked for (then exit is false).
func (m *machine) normal(ctx context.Context) (code int, exit bool) {
	select {
	case <-m.sup.StopRequested():
		m.log.Info("stop requested before the child started: not starting it")
		return 128 + int(syscall.SIGTERM), true
	default:
	}
	m.writeState(State{Mode: "normal", Phase: PhaseBootstrapping})
	cmd := m.Component.Command
	if m.Component.Bootstrap != nil {
		args, code, exit, debug := m.bootstrap(ctx)
		if exit || debug {
			return code, exit
		}
		cmd.Args = append(append([]string(nil), cmd.Args...), args...)
		m.event("Normal", "Registered", "bootstrap done (member of the cluster): starting "+strings.Join(append([]string{filepath.Base(cmd.Path)}, cmd.Args...), " "))
	}
	c, err := m.sup.Start(cmd)
	if err != nil {
		var ee *supervisor.ExecError
		if errors.As(err, &ee) {
			m.log.Error("cannot execute the child", zap.String("path", ee.Path), zap.Int("code", ee.Code), zap.Error(ee.Err))
			return ee.Code, true
		}
		m.log.Error("cannot start the child", zap.Error(err))
		return 1, true
	}
	m.starts++
	m.writeState(State{Mode: "normal", Phase: PhaseRunning, ChildPID: c.Pid()})
	for {
		select {
		case <-c.Done():
			m.exited(c.ExitCode())
			m.event("Warning", "ChildExited", fmt.Sprintf("%s exited with code %d: the container stops", filepath.Base(cmd.Path), c.ExitCode()))
			return m.sup.Wait(ctx, c), true
		case <-m.sup.StopRequested():
			m.writeState(State{Mode: "normal", Phase: PhaseStopping, ChildPID: c.Pid()})
			left := m.beforeStop(c)
			code := m.sup.Wait(ctx, c)
			m.exited(code)
			m.afterStop()
			if left && code != 0 {
				m.log.Info("the node left the cluster: exiting 0", zap.Int("child_code", code))
				code = 0
			}
			return code, true
		case st := <-m.Podinfo.Changes():
			m.latest = st
			if prev := m.refused; !m.wantsDebug(st) {
				if m.refused != prev {
					m.writeState(State{Mode: "normal", Phase: PhaseRunning, ChildPID: c.Pid()})
				}
				continue
			}
			// (2) Stop the child as SIGTERM would; debug takes over.
			m.log.Info("entering debug mode: stopping the child", zap.String("mode", "debug"), zap.Int("pid", c.Pid()))
			m.writeState(State{Mode: "debug", Phase: PhaseStopping, ChildPID: c.Pid()})
			code := m.sup.StopChild(c)
			m.last = &code
			return 0, false
		}
	}
}

// bootstrap runs Component.Bootstrap, watching the annotations and the stop
// request meanwhile. debug says debug mode was asked for (not an exit).
func (m *machine) bootstrap(ctx context.Context) (args []string, code int, exit, debug bool) {
	// Bootstrap's ctx ends only by cancel below: a cancelled Run ctx
	// arrives as StopRequested (see Run), so a Bootstrap that returns its
	// ctx's error is never mistaken for a failed one.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	type result struct {
		args []string
		err  error
	}
	done := make(chan result, 1)
	st := m.latest
	go func() {
		args, err := m.Component.Bootstrap(bctx, st)
		done <- result{args, err}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				m.log.Error("bootstrap failed", zap.Error(r.err))
				return nil, 1, true, false
			}
			return r.args, 0, false, false
		case <-m.sup.StopRequested():
			cancel()
			<-done
			m.log.Info("stop requested during the bootstrap: not starting the child")
			return nil, 128 + int(syscall.SIGTERM), true, false
		case st := <-m.Podinfo.Changes():
			m.latest = st
			if prev := m.refused; !m.wantsDebug(st) {
				if m.refused != prev {
					m.writeState(State{Mode: "normal", Phase: PhaseBootstrapping})
				}
				continue
			}
			// (2) Cancel the bootstrap and wait for it.
			cancel()
			<-done
			m.log.Info("entering debug mode during the bootstrap", zap.String("mode", "debug"))
			return nil, 0, false, true
		}
	}
}

// Retries of a restore that failed (7): the first after restoreRetryMin,
// doubling up to restoreRetryMax.
const (
	restoreRetryMin = 250 * time.Millisecond
	restoreRetryMax = 10 * time.Second
)

// debug holds the pod in debug mode until the annotation goes away and the
// conf is restored (exit false), or a stop is requested (exit true, code
// 0): steps (3) to (8) of the protocol in the package comment. The child,
// if any, is stopped (2). After a failed restore at start (1) it holds the
// pod the same way, without moving anything, until the restore works.
func (m *machine) debug() (code int, exit bool) {
	comp := m.Component
	st := State{Mode: "debug", Phase: PhaseDebug, Marker: confpatch.Marker(comp.Conf)}
	recovering := m.unrestored != nil
	if !recovering {
		m.restored = "" // a new debug session
	}
	var moved []confpatch.Moved
	if recovering {
		// (1) failed: the conf is as the crash left it, moved as its
		// marker says (when it can be read).
		if ms, err := confpatch.ReadState(comp.Conf); err == nil {
			moved, st.Offset = ms.Moved, ms.Offset
		}
		st.Problem = m.restoreProblem(m.unrestored)
	} else if off, err := m.enter(&moved); err != nil {
		// (3) failed: stay in debug mode anyway: a debug session is still
		// possible, and the pod must not crash-loop because of a patch.
		st.Problem = "ports not moved: " + err.Error()
		st.Marker = ""
		m.log.Error("debug mode without moved ports: the conf is unchanged", zap.String("conf", comp.Conf), zap.Error(err))
	} else {
		st.Offset = off
	}
	m.chosen = 0
	st.Ports = moved
	entered := st.Problem // what stays true while in debug mode
	port := m.livenessPort(moved)
	key := cmp.Or(m.latest.RunmodeKey, podinfo.KeyRunmode)
	msg := holdMessage(comp.Name, key)
	// (4) Hold the liveness port.
	h, err := holder.Listen(port, comp.Hold, msg)
	if err != nil {
		entered = strings.TrimPrefix(entered+"; ", "; ") + err.Error()
		st.Problem = entered
		m.log.Error("cannot hold the liveness port in debug mode", zap.Int("port", port), zap.Error(err))
	}
	fields := []zap.Field{zap.String("mode", "debug"), zap.Int("port", port), zap.String("conf", comp.Conf)}
	for _, mv := range moved {
		fields = append(fields, zap.String(mv.Key, strconv.Itoa(mv.From)+"->"+strconv.Itoa(mv.To)))
	}
	if len(moved) > 0 {
		m.log.Info("debug mode: ports moved, liveness port held", fields...)
	} else {
		m.log.Info("debug mode: liveness port held, ports not moved", fields...)
	}
	var ports []string
	for _, mv := range moved {
		ports = append(ports, fmt.Sprintf("%s %d→%d", mv.Key, mv.From, mv.To))
	}
	note := fmt.Sprintf("annotation %s=debug: %s not running, port %d held", key, strings.ToUpper(comp.Name), port)
	if len(ports) > 0 {
		note += "; moved " + strings.Join(ports, ", ")
	}
	if st.Problem != "" {
		note += "; problem: " + st.Problem
	}
	// (5) Publish, then idle until the annotation goes or a stop comes.
	if recovering {
		m.event("Warning", "ConfRestoreFailed", st.Problem)
	} else {
		m.event("Normal", "DebugModeEntered", note)
	}
	m.writeState(st)

	// (8) Stop whatever runs, then (7) once, and exit 0: a conf that
	// cannot be restored keeps its marker for the next start's (1).
	stop := func() (int, bool) {
		m.log.Info("stopping in debug mode", zap.String("mode", "debug"))
		st.Phase = PhaseStopping
		m.writeState(st)
		m.sup.TerminateAll()
		ok, err := m.restore()
		if err != nil {
			m.log.Error("cannot restore the conf: the next start restores it", zap.String("conf", comp.Conf), zap.Error(err))
		} else if ok {
			m.log.Info("conf restored", zap.String("conf", comp.Conf))
		}
		if h != nil {
			h.Close()
		}
		m.debugStop(st, err)
		return 0, true
	}
	leaving := recovering // recovering: restore whatever the annotation says
	var retry <-chan time.Time
	wait, failures := restoreRetryMin, 0
	if recovering {
		retry = time.After(wait)
	}
	for {
		select {
		case <-m.sup.StopRequested():
			return stop()
		case ps := <-m.Podinfo.Changes():
			m.latest = ps
			if ps.Mode == podinfo.Debug {
				if leaving && !recovering {
					// Back to debug mode before the restore worked.
					m.log.Info("debug mode asked for again: staying", zap.String("mode", "debug"))
					leaving, retry, wait, failures, st.Problem = false, nil, restoreRetryMin, 0, entered
					m.writeState(st)
				}
				continue
			}
			if leaving {
				continue // the retry timer runs
			}
			leaving = true
			m.log.Info("leaving debug mode", zap.String("mode", "normal"))
		case <-retry:
		}
		// (6) Wait for hand-started servers; a stop meanwhile is (8).
		if !m.waitHandStarted(moved) {
			return stop()
		}
		// (7) Restore the conf and drop the marker; only then release the
		// port and leave. A restore that fails keeps the pod in debug mode
		// (the reason in the state, a Warning Event) and is retried.
		ok, err := m.restore()
		if err != nil {
			failures++
			m.log.Debug("conf restore retried", zap.Int("failures", failures), zap.Error(err))
			if failures == 1 && !recovering { // recovering: published at (5)
				m.log.Error("cannot restore the conf: staying in debug mode, retrying", zap.String("mode", "debug"),
					zap.String("conf", comp.Conf), zap.Error(err))
				st.Problem = m.restoreProblem(err)
				m.event("Warning", "ConfRestoreFailed", st.Problem)
				m.writeState(st)
			}
			retry = time.After(wait)
			wait = min(2*wait, restoreRetryMax)
			continue
		}
		if ok {
			m.log.Info("conf restored", zap.String("conf", comp.Conf), zap.Int("retries", failures))
		}
		if h != nil {
			h.Close()
		}
		if recovering {
			m.unrestored = nil
			m.log.Warn("conf restored after a crash in debug mode", zap.String("conf", comp.Conf), zap.Int("retries", failures))
			m.event("Warning", "ConfRestored", "conf restored after a crash in debug mode: "+comp.Conf)
			return 0, false
		}
		m.event("Normal", "DebugModeLeft", "annotation removed: conf restored, starting the "+strings.ToUpper(comp.Name))
		return 0, false
	}
}

// wantsDebug is (2) for a change of the annotations while in normal mode:
// whether to enter debug mode now (an offset was chosen). A change of
// m.refused (a refusal, the annotation removed after one) is for the
// caller to publish in the state.
func (m *machine) wantsDebug(st podinfo.State) bool {
	if st.Mode != podinfo.Debug {
		if m.refused != "" {
			m.log.Info("debug annotation removed: debug mode no longer refused", zap.String("mode", "normal"))
		}
		m.refused = ""
		return false
	}
	return m.pick()
}

// pick is (2)'s choice of the offset, before anything is stopped: true when
// one works (m.chosen); otherwise the entry is refused (m.refused, a log
// line, a Warning Event when the reason is new) and the component stays in
// normal mode.
func (m *machine) pick() bool {
	off, err := m.chooseOffset(m.Offset)
	if err == nil {
		m.chosen, m.refused = off, ""
		return true
	}
	key := cmp.Or(m.latest.RunmodeKey, podinfo.KeyRunmode)
	why := fmt.Sprintf("debug mode refused: %v; the %s keeps running in normal mode with the annotation %s=debug still set; "+
		"debug mode is tried again when the annotations change or at the next start", err, strings.ToUpper(m.Component.Name), key)
	m.log.Warn("debug mode refused: no port offset works, staying in normal mode", zap.String("mode", "normal"),
		zap.String("conf", m.Component.Conf), zap.Error(err))
	if why != m.refused {
		m.event("Warning", "DebugModeRefused", why)
	}
	m.refused = why
	return false
}

// chooseOffset is chooseOffset on the conf as it is, want first. A conf
// that cannot be read gives want: Enter reports why it cannot move it.
func (m *machine) chooseOffset(want int) (int, error) {
	comp := m.Component
	data, err := os.ReadFile(comp.Conf)
	if err != nil {
		return want, nil
	}
	plan := newPortPlan(confpatch.SyntaxOf(comp.Conf), data, comp.Ports, comp.Listens, addrPort(m.ProbeAddr))
	off, err := chooseOffset(plan, want, m.inUse)
	if err != nil {
		return 0, fmt.Errorf("DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET %w in %s", err, comp.Conf)
	}
	return off, nil
}

// enter is (3): it moves the ports in the conf by the offset (2) chose,
// chosen again on the conf as it is now (the child has stopped), and
// records it in the marker; when none works any more it changes nothing.
func (m *machine) enter(moved *[]confpatch.Moved) (int, error) {
	comp := m.Component
	off, err := m.chooseOffset(cmp.Or(m.chosen, m.Offset))
	if err != nil {
		return 0, err
	}
	if off != m.Offset {
		m.log.Info("debug mode: DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET does not work for this conf: using another offset",
			zap.Int("configured", m.Offset), zap.Int("offset", off))
	}
	mv, err := confpatch.Enter(comp.Conf, comp.Ports, off)
	*moved = mv
	return off, err
}

// restore is confpatch.RestoreConf of the component's conf: whether there
// was a marker. An edit someone made in debug mode is never dropped
// silently: what became of it (kept, or saved aside) is logged, sent as a
// Warning Event ConfEdited and kept in the state (State.Restored) until
// debug mode is entered again.
func (m *machine) restore() (bool, error) {
	r, err := confpatch.RestoreConf(m.Component.Conf)
	if err == nil && r.Edited {
		m.restored = r.String()
		m.log.Warn("conf edited in debug mode", zap.String("conf", r.Conf), zap.Bool("kept", r.Kept),
			zap.String("copy", r.Copy), zap.String("detail", m.restored))
		m.event("Warning", "ConfEdited", m.restored)
	}
	return r.Marker, err
}

// restoreProblem is State.Problem while the conf cannot be restored.
func (m *machine) restoreProblem(err error) string {
	return fmt.Sprintf("conf not restored (%v): staying in debug mode, the %s starts only once the restore works (retrying)",
		err, strings.ToUpper(m.Component.Name))
}

// livenessPort is the port the operator probes: the original value of the
// first port key.
func (m *machine) livenessPort(moved []confpatch.Moved) int {
	p := m.Component.Ports[0]
	for _, mv := range moved {
		if mv.Key == p.Key {
			return mv.From
		}
	}
	if data, err := os.ReadFile(m.Component.Conf); err == nil {
		if v, err := confpatch.SyntaxOf(m.Component.Conf).PortValue(data, p); err == nil {
			return v
		}
	}
	return p.Default
}

// waitHandStarted waits until no hand-started component is left: none of
// the moved ports is in use and the pid file names no live process (6). It
// returns false when a stop was requested meanwhile.
func (m *machine) waitHandStarted(moved []confpatch.Moved) bool {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastLog time.Time
	for {
		why := m.handStarted(moved)
		if why == "" {
			return true
		}
		if time.Since(lastLog) >= 10*time.Second {
			m.log.Info("waiting for the hand-started component to exit before leaving debug mode", zap.String("reason", why))
			lastLog = time.Now()
		}
		select {
		case <-m.sup.StopRequested():
			return false
		case <-tick.C:
		}
	}
}

func (m *machine) handStarted(moved []confpatch.Moved) string {
	for _, mv := range moved {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(mv.To))
		if err != nil {
			return fmt.Sprintf("%s %d is in use", mv.Key, mv.To)
		}
		ln.Close()
	}
	if b, err := os.ReadFile(m.Component.PIDFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Sprintf("%s names live pid %d", m.Component.PIDFile, pid)
		}
	}
	return ""
}

// event passes an Event on, if anyone listens.
func (m *machine) event(eventType, reason, message string) {
	if m.Event != nil {
		m.Event(eventType, reason, message)
	}
}

// exited records the child's exit.
func (m *machine) exited(code int) {
	m.last = &code
	m.writeState(State{Mode: "normal", Phase: PhaseExited})
}

// writeState publishes st: to OnState, and atomically to the state file.
func (m *machine) writeState(st State) {
	st.Component = m.Component.Name
	st.Restarts = max(m.starts-1, 0)
	st.LastExit = m.last
	st.Since = time.Now().UTC()
	st.Conf = m.Component.Conf
	st.Command = append([]string{m.Component.Command.Path}, m.Component.Command.Args...)
	st.Dir = m.Component.Command.Dir
	st.RunmodeKey = m.latest.RunmodeKey
	st.Restored = m.restored
	if st.Mode == "normal" && st.Problem == "" {
		st.Problem = m.refused // (2)
	}
	if m.OnState != nil {
		m.OnState(st)
	}
	if m.StateFile == "" {
		return
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.MkdirAll(filepath.Dir(m.StateFile), 0o755); err == nil {
		tmp := m.StateFile + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, m.StateFile)
		}
		if err == nil {
			return
		}
	}
	m.log.Warn("cannot write the state file for status", zap.String("path", m.StateFile))
}

// ReadState reads the state file written by a running supervisor.
func ReadState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// holdMessage is what a MySQL client gets on the held query port; key is
// the annotation that set debug mode.
func holdMessage(component, key string) string {
	return fmt.Sprintf("pod is in debug mode (annotation %s=debug): the %s is not running; "+
		"remove the annotation to leave debug mode", key, strings.ToUpper(component))
}
