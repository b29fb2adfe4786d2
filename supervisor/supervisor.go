package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/sigfwd"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// orphanLogDelay groups the orphans reaped in a burst into one log line.
const orphanLogDelay = 250 * time.Millisecond

// killWait bounds the wait for processes to vanish after SIGKILL (a process
// in uninterruptible sleep may take a while; the supervisor exits anyway).
const killWait = 10 * time.Second

// Config configures a [Supervisor].
type Config struct {
	// Signals is the signal intake, created early with [NotifySignals].
	Signals *Signals
	// Logger receives one line per lifecycle event; nil discards them.
	Logger *zap.Logger
	// StopTimeout is how long a graceful stop may take, from the first
	// SIGTERM (or from the main child's own exit) until SIGKILL.
	StopTimeout time.Duration
	// ProcDir is where procfs is mounted; empty means /proc.
	ProcDir string
	// Prestarted is the pid of a main child started before New (package
	// earlystart), in its own process group; New adopts it as if Start had
	// started it. 0 means none.
	Prestarted int
	// Notify, when set, is told of events worth a Kubernetes Event (the
	// stop timeout); it must not block.
	Notify func(reason, message string)
}

// Stats are counters for the probe endpoint's metrics.
type Stats struct {
	SignalsForwarded uint64
	OrphansReaped    uint64
}

// Supervisor performs the PID-1 duties. Create it with [New]; it reaps and
// forwards signals in the background from then on.
type Supervisor struct {
	log         *zap.Logger
	sigs        *Signals
	stopTimeout time.Duration
	notify      func(reason, message string)
	procDir     string
	self        int
	pid1        bool

	mu         sync.Mutex
	children   map[int]*Child // started by Start and not yet reaped
	target     *Child         // main child: its group receives forwarded signals
	idle       chan struct{}  // closed while the supervisor has no children at all
	idleClosed bool
	stopCh     chan struct{} // closed at the first stop request
	stopAt     time.Time
	spared     map[int]uint64 // pid → start time: processes the stop leaves alone (Spare)

	prestarted *Child

	forwarded atomic.Uint64
	orphans   atomic.Uint64

	// Orphans reaped but not yet logged: a burst is one log line, not one
	// per SIGCHLD (loop goroutine only, except flushOrphans at the end).
	unlogged   atomic.Uint64
	orphanTick *time.Timer

	synced chan struct{} // closed by the loop at the next sync marker (guarded by mu)

	quit     chan struct{}
	loopDone chan struct{}
	closed   atomic.Bool
	started  chan struct{} // a child was started: the waiter has work again
}

// New prepares the process for PID-1 duty and starts reaping and forwarding
// signals. When the process is not PID 1 it becomes a child subreaper, so that
// orphans are reparented to it.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Signals == nil {
		return nil, errors.New("supervisor: Config.Signals is required")
	}
	if cfg.StopTimeout <= 0 {
		return nil, fmt.Errorf("supervisor: stop timeout must be positive, got %s", cfg.StopTimeout)
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	procDir := cfg.ProcDir
	if procDir == "" {
		procDir = "/proc"
	}
	if err := prepareFDs(); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s := &Supervisor{
		log:         log,
		sigs:        cfg.Signals,
		stopTimeout: cfg.StopTimeout,
		notify:      cfg.Notify,
		procDir:     procDir,
		self:        os.Getpid(),
		children:    make(map[int]*Child),
		idle:        make(chan struct{}),
		stopCh:      make(chan struct{}),
		quit:        make(chan struct{}),
		started:     make(chan struct{}, 1),
		synced:      make(chan struct{}),
		loopDone:    make(chan struct{}),
		orphanTick:  time.NewTimer(time.Hour),
	}
	s.orphanTick.Stop()
	s.pid1 = s.self == 1
	if !s.pid1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			log.Warn("not PID 1 and cannot become a child subreaper: orphans will not be reaped",
				zap.Int("pid", s.self), zap.Error(err))
		} else {
			log.Info("not PID 1: became a child subreaper", zap.Int("pid", s.self))
		}
	}
	if cfg.Prestarted > 0 {
		// Before the loop's first reap, or the child's exit would count as
		// an orphan's.
		c := &Child{pid: cfg.Prestarted, done: make(chan struct{})}
		s.children[c.pid] = c
		s.target = c
		s.sigs.setTarget(c.pid)
		s.prestarted = c
	}
	go s.loop()
	go s.waitExits()
	return s, nil
}

// Close stops the background reaping. Signals stay caught.
func (s *Supervisor) Close() {
	s.closed.Store(true)
	close(s.quit)
	<-s.loopDone
}

// IsPID1 reports whether the supervisor runs as PID 1 of its namespace.
func (s *Supervisor) IsPID1() bool { return s.pid1 }

// Stats returns the counters since New.
func (s *Supervisor) Stats() Stats {
	return Stats{SignalsForwarded: s.forwarded.Load(), OrphansReaped: s.orphans.Load()}
}

// StopRequested is closed when the first SIGTERM arrives (or [Supervisor.RequestStop]
// is called), whether or not a child is running.
func (s *Supervisor) StopRequested() <-chan struct{} { return s.stopCh }

// RequestStop begins a graceful stop as SIGTERM would, without a signal.
func (s *Supervisor) RequestStop(reason string) {
	s.mu.Lock()
	first := s.markStopLocked()
	s.mu.Unlock()
	if first {
		s.log.Info("stop requested", zap.String("reason", reason), zap.Duration("timeout", s.stopTimeout))
	}
}

// Spare makes the stop leave the process pid alone: a preStop hook that
// waits on the control socket for the stop to complete (control.go) is not
// what is stopped, and must outlive the stop to exit 0. As PID 1 the stop
// otherwise reaches every process of the namespace (kill -1); with a spared
// process it signals the others one by one. The process is known by pid and
// start time, so a pid reused later is not spared.
func (s *Supervisor) Spare(pid int) {
	e, ok := readProcStat(s.procDir, pid)
	if !ok || pid == s.self || e.zombie {
		return
	}
	s.mu.Lock()
	if s.spared == nil {
		s.spared = make(map[int]uint64)
	}
	s.spared[pid] = e.start
	s.mu.Unlock()
}

// isSpared reports whether Spare named e.
func (s *Supervisor) isSpared(e procEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	start, ok := s.spared[e.pid]
	return ok && start == e.start
}

// signalAll sends sig to every process of the namespace but the supervisor
// and the spared ones (PID 1 only): kill(-1), which no fork escapes, when
// none is spared; otherwise one by one, going round until a listing shows
// no process not yet signalled (a few rounds at most).
func (s *Supervisor) signalAll(sig unix.Signal) {
	s.mu.Lock()
	none := len(s.spared) == 0
	s.mu.Unlock()
	if none {
		unix.Kill(-1, sig)
		return
	}
	sent := make(map[int]bool)
	for round := 0; round < 3; round++ {
		more := false
		for _, e := range allProcesses(s.procDir, s.self) {
			if !sent[e.pid] && !s.isSpared(e) && unix.Kill(e.pid, sig) == nil {
				sent[e.pid] = true
				more = true
			}
		}
		if !more {
			return
		}
	}
}

// markStopLocked records the first stop request; later ones change nothing,
// so a second SIGTERM does not reset the stop timer.
func (s *Supervisor) markStopLocked() bool {
	if !s.stopAt.IsZero() {
		return false
	}
	s.stopAt = time.Now()
	close(s.stopCh)
	return true
}

func (s *Supervisor) loop() {
	defer close(s.loopDone)
	for {
		select {
		case <-s.quit:
			return
		case ev := <-s.sigs.events:
			if ev.Signal == 0 {
				s.mu.Lock()
				close(s.synced)
				s.synced = make(chan struct{})
				s.mu.Unlock()
				continue
			}
			s.handleSignal(ev)
		case <-s.orphanTick.C:
			s.flushOrphans()
		}
	}
}

// handleSignal records a signal the handler received (and usually already
// forwarded). SIGTERM also starts the graceful stop, even when no child runs
// yet. A signal that arrived before the target was set is forwarded now.
func (s *Supervisor) handleSignal(ev sigfwd.Event) {
	sig := ev.Signal
	s.mu.Lock()
	first := sig == unix.SIGTERM && s.markStopLocked()
	target := s.target
	forwarded, pgid := ev.Forwarded, ev.PGID
	var err error
	if !forwarded && target != nil {
		err = unix.Kill(-target.pid, sig)
		forwarded, pgid = err == nil, target.pid
	}
	if forwarded && sig == unix.SIGTERM && target != nil && pgid == target.pid {
		target.termSent = true
	}
	s.mu.Unlock()

	name := signalName(sig)
	if first {
		s.log.Info("stop requested", zap.String("signal", name), zap.Duration("timeout", s.stopTimeout))
	}
	switch {
	case forwarded:
		s.forwarded.Add(1)
		s.log.Info("signal forwarded", zap.String("signal", name), zap.Int("pgid", pgid))
	case target == nil:
		s.log.Info("signal not forwarded: no child", zap.String("signal", name))
	default:
		s.log.Info("signal not forwarded", zap.String("signal", name), zap.Int("pgid", target.pid), zap.Error(err))
	}
}

// waitExits reaps as children exit. It sleeps in waitid(WNOWAIT), which the
// kernel ends as soon as a child exits — one thread wake-up per burst, no
// signal delivery and no goroutine hand-offs on the way — and then reaps
// everything that has exited. WNOWAIT leaves the reaping to reap(), under
// the lock, so a waiter of a closed Supervisor (tests make several in one
// process) never takes another's child. With no child at all, it waits for
// Start, or for SIGCHLD: an orphan of a process that entered the namespace
// from outside (kubectl exec) is reparented to PID 1 while PID 1 has no
// other child.
func (s *Supervisor) waitExits() {
	// Children may predate us (they survive an exec into this binary).
	s.reap()
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if s.closed.Load() {
			return
		}
		switch err {
		case nil:
			s.reap()
		case unix.EINTR:
		case unix.ECHILD:
			s.reap() // marks the supervisor idle
			select {
			case <-s.quit:
				return
			case <-s.sigs.child:
			case <-s.started:
			}
		default:
			s.log.Error("waitid failed; reaping on SIGCHLD only", zap.Error(err))
			for {
				select {
				case <-s.quit:
					return
				case <-s.sigs.child:
					s.reap()
				}
			}
		}
	}
}

// reap collects every exited child, tracked or orphan, until none is left.
func (s *Supervisor) reap() {
	var exited []*Child
	var orphans uint64
	s.mu.Lock()
	for {
		var ws unix.WaitStatus
		// WNOHANG never blocks, so the raw form skips the scheduler's
		// syscall bookkeeping: a burst of zombies is thousands of calls.
		r, _, errno := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), unix.WNOHANG, 0, 0, 0)
		pid := int(r)
		var err error
		if errno != 0 {
			err = errno
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.ECHILD && !s.idleClosed {
				close(s.idle)
				s.idleClosed = true
			}
			break
		}
		if pid <= 0 {
			break
		}
		if c, ok := s.children[pid]; ok {
			c.status = ws
			delete(s.children, pid)
			exited = append(exited, c)
		} else {
			orphans++
		}
	}
	s.mu.Unlock()

	if len(exited) > 0 {
		// Log a forwarded signal before the exit it caused.
		s.syncSignals()
	}
	for _, c := range exited {
		fields := []zap.Field{zap.Int("pid", c.pid), zap.Int("code", exitCode(c.status))}
		if c.status.Signaled() {
			fields = append(fields, zap.String("signal", signalName(c.status.Signal())))
		}
		s.log.Info("child exited", fields...)
		close(c.done)
	}
	if orphans > 0 {
		s.orphans.Add(orphans)
		if s.unlogged.Add(orphans) == orphans {
			s.orphanTick.Reset(orphanLogDelay)
		}
	}
}

// syncSignals waits (briefly) until the loop has handled every signal
// received so far, so that none goes unlogged when the supervisor exits
// right after the child it was forwarded to.
func (s *Supervisor) syncSignals() {
	s.mu.Lock()
	ch := s.synced
	s.mu.Unlock()
	s.sigs.sync()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// flushOrphans logs the orphans reaped since the last such line.
func (s *Supervisor) flushOrphans() {
	if n := s.unlogged.Swap(0); n > 0 {
		s.log.Info("orphans reaped", zap.Uint64("count", n))
	}
}

// idleCh returns a channel closed once the supervisor has no child at all.
func (s *Supervisor) idleCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}

// Start starts cmd in its own process group and makes it the target of
// forwarded signals. Failures to execute are *ExecError.
func (s *Supervisor) Start(cmd Command) (*Child, error) {
	path, err := cmd.resolve()
	if err != nil {
		return nil, &ExecError{Path: cmd.Path, Code: execCode(err), Err: err}
	}
	if cmd.Dir != "" {
		// Checked here: a chdir failure inside ForkExec looks like ENOENT of
		// the program.
		if fi, err := os.Stat(cmd.Dir); err != nil || !fi.IsDir() {
			if err == nil {
				err = syscall.ENOTDIR
			}
			return nil, fmt.Errorf("working directory %s: %w", cmd.Dir, err)
		}
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if controllingTerminal() {
		sys.Foreground = true
		sys.Ctty = 0
	}
	attr := &syscall.ProcAttr{Dir: cmd.Dir, Env: env, Files: []uintptr{0, 1, 2}, Sys: sys}
	argv := append([]string{cmd.Path}, cmd.Args...)

	s.mu.Lock()
	var pid int
	err = earlystart.StartChild(func() (err error) {
		pid, err = syscall.ForkExec(path, argv, attr)
		return err
	})
	if err != nil {
		s.mu.Unlock()
		return nil, &ExecError{Path: cmd.Path, Code: execCode(err), Err: err}
	}
	c := &Child{pid: pid, done: make(chan struct{})}
	s.children[pid] = c
	s.target = c
	s.sigs.setTarget(pid)
	if s.idleClosed {
		s.idle = make(chan struct{})
		s.idleClosed = false
	}
	s.mu.Unlock()

	select {
	case s.started <- struct{}{}:
	default:
	}
	s.log.Info("child started", zap.Int("pid", pid), zap.String("path", path), zap.Strings("args", cmd.Args))
	s.trim()
	return c, nil
}

// trim drops what start-up alone needed from the resident set, once the
// child runs and the supervisor settles into waiting (TrimResident). A
// failure costs memory only.
func (s *Supervisor) trim() {
	time.AfterFunc(time.Second, func() {
		if _, err := TrimResident(); err != nil {
			s.log.Debug("resident pages not trimmed", zap.Error(err))
		}
	})
}

// controllingTerminal reports whether stdin is this session's controlling
// terminal; then the child gets the foreground so that it can read from it.
func controllingTerminal() bool {
	sid, err := unix.IoctlGetInt(0, unix.TIOCGSID)
	if err != nil {
		return false
	}
	own, err := unix.Getsid(0)
	return err == nil && own == sid
}

// Run starts cmd and supervises it until it and every other descendant are
// gone, and returns the exit code for the supervisor: the child's code,
// 128+signal, or 126/127 when it could not be executed.
func (s *Supervisor) Run(ctx context.Context, cmd Command) int {
	select {
	case <-s.stopCh:
		s.log.Info("stop requested before the child started: not starting it")
		return 128 + int(unix.SIGTERM)
	default:
	}
	c, err := s.Start(cmd)
	if err != nil {
		var ee *ExecError
		if errors.As(err, &ee) {
			s.log.Error("cannot execute the child", zap.String("path", ee.Path), zap.Int("code", ee.Code), zap.Error(ee.Err))
			return ee.Code
		}
		s.log.Error("cannot start the child", zap.Error(err))
		return 1
	}
	return s.Wait(ctx, c)
}

// RunPrestarted supervises the child given as Config.Prestarted, which cmd
// describes, like Run. execErr is the errno of its failed exec, if any.
func (s *Supervisor) RunPrestarted(ctx context.Context, cmd Command, execErr error) int {
	c := s.prestarted
	if c == nil {
		s.log.Error("no prestarted child")
		return 1
	}
	if execErr != nil {
		code := execCode(execErr)
		s.log.Error("cannot execute the child", zap.String("path", cmd.Path), zap.Int("code", code), zap.Error(execErr))
		<-c.Done() // it exits at once
		return code
	}
	s.log.Info("child started", zap.Int("pid", c.pid), zap.String("path", cmd.Path), zap.Strings("args", cmd.Args), zap.Bool("early", true))
	s.trim()
	return s.Wait(ctx, c)
}

// Wait supervises c until it exits on its own or a stop is requested (SIGTERM,
// RequestStop, ctx cancelled), then waits for every descendant to finish
// within the stop timeout and SIGKILLs whatever remains. It returns c's exit
// code.
func (s *Supervisor) Wait(ctx context.Context, c *Child) int {
	select {
	case <-c.Done():
		// A SIGTERM forwarded by the handler may have ended the child
		// before the loop recorded it: let it, so this counts as a stop.
		s.syncSignals()
	case <-s.stopCh:
	case <-ctx.Done():
		s.RequestStop("context cancelled")
	}

	s.mu.Lock()
	stopping := !s.stopAt.IsZero()
	deadline := time.Now().Add(s.stopTimeout)
	if stopping {
		deadline = s.stopAt.Add(s.stopTimeout)
	}
	s.mu.Unlock()
	if stopping {
		// The SIGTERM may have arrived before this child was the target.
		s.signalGroupOnce(c, unix.SIGTERM)
	}
	return s.finish(c, deadline, stopping)
}

// StopChild stops c the way SIGTERM would, but leaves the supervisor
// running (debug mode takes over): SIGTERM to c's group, then c and the
// rest of its own process tree get the stop timeout to finish before
// SIGKILL. What else PID 1 adopted — a kubectl exec session's leftovers —
// is not c's and is left alone (see tree); the stop at exit still ends
// everything. It returns c's exit code; c is no longer the target of
// forwarded signals.
func (s *Supervisor) StopChild(c *Child) int {
	tr := newTree(s.procDir, c) // before the SIGTERM: who belongs to c
	s.signalGroupOnce(c, unix.SIGTERM)
	code := s.stopTree(c, tr, time.Now().Add(s.stopTimeout))
	s.mu.Lock()
	if s.target == c {
		s.target = nil
		s.sigs.setTarget(0)
	}
	s.mu.Unlock()
	return code
}

// stopTree waits for c and the rest of tr until deadline, then SIGKILLs
// what is left of tr. Once c has exited, a member outside its group (which
// the group's SIGTERM missed) gets a SIGTERM of its own.
func (s *Supervisor) stopTree(c *Child, tr *tree, deadline time.Time) int {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	defer s.flushOrphans()
	defer s.syncSignals()
	for {
		live := tr.refresh()
		select {
		case <-c.Done():
			if len(live) == 0 {
				return c.ExitCode()
			}
			n := 0
			for _, pid := range tr.outsideGroup(live) {
				if unix.Kill(pid, unix.SIGTERM) == nil {
					n++
				}
			}
			if n > 0 {
				s.log.Info("terminating remaining processes", zap.Int("count", n), zap.Duration("timeout", time.Until(deadline).Round(time.Millisecond)))
			}
		default:
		}
		select {
		case <-timer.C:
			s.timeout(c, false, tr.refresh)
			return s.afterKill(c, func(t <-chan time.Time) bool {
				for len(tr.refresh()) > 0 {
					select {
					case <-t:
						return false
					case <-tick.C:
					}
				}
				return true
			})
		case <-tick.C:
		}
	}
}

// finish waits for c, then for the rest of the tree, until deadline, then
// SIGKILLs what remains: as PID 1 every process, since the supervisor exits
// next (kubectl exec sessions die with PID 1 anyway). stopping says c's
// group already got SIGTERM.
func (s *Supervisor) finish(c *Child, deadline time.Time, stopping bool) int {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-c.Done():
	case <-timer.C:
		s.timeout(c, true, s.liveDescendants)
		code := s.afterKill(c, s.idleWithin)
		s.syncSignals()
		s.flushOrphans()
		return code
	}
	code := c.ExitCode()

	// The main child is gone; the rest of its tree now belongs to us.
	s.terminateRest(c, stopping)
	select {
	case <-s.idleCh():
	case <-timer.C:
		s.timeout(c, true, s.liveDescendants)
		s.afterKill(c, s.idleWithin)
	}
	s.syncSignals()
	s.flushOrphans()
	return code
}

// idleWithin waits until the supervisor has no child at all, or t fires.
func (s *Supervisor) idleWithin(t <-chan time.Time) bool {
	select {
	case <-s.idleCh():
		return true
	case <-t:
		return false
	}
}

// liveDescendants lists the supervisor's descendants that are not zombies.
func (s *Supervisor) liveDescendants() []procEntry {
	var out []procEntry
	for _, d := range descendants(s.procDir, s.self) {
		if !d.zombie {
			out = append(out, d)
		}
	}
	return out
}

// TerminateAll stops every other process the supervisor can see — as PID 1,
// every process of the namespace, including ones started with kubectl exec,
// which are not its children — with SIGTERM, waits for them until the stop
// timeout (from the stop request, if any), then SIGKILLs the rest. Debug
// mode uses it on SIGTERM.
func (s *Supervisor) TerminateAll() {
	s.mu.Lock()
	deadline := time.Now().Add(s.stopTimeout)
	if !s.stopAt.IsZero() {
		deadline = s.stopAt.Add(s.stopTimeout)
	}
	s.mu.Unlock()
	others := func() []int {
		var pids []int
		for _, p := range s.others() {
			pids = append(pids, p.pid)
		}
		return pids
	}
	pids := others()
	if len(pids) == 0 {
		return
	}
	if s.pid1 {
		s.signalAll(unix.SIGTERM)
	} else {
		for _, p := range pids {
			unix.Kill(p, unix.SIGTERM)
		}
	}
	s.log.Info("terminating remaining processes", zap.Int("count", len(pids)), zap.Duration("timeout", time.Until(deadline).Round(time.Millisecond)))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(others()) > 0 {
		if time.Now().After(deadline) {
			left := others()
			s.log.Warn("stop timeout reached", zap.Duration("timeout", s.stopTimeout), zap.Int("remaining", len(left)))
			if s.pid1 {
				s.signalAll(unix.SIGKILL)
			}
			for _, p := range left {
				unix.Kill(p, unix.SIGKILL)
			}
			s.log.Warn("SIGKILL sent", zap.Int("count", len(left)))
			break
		}
		<-tick.C
	}
	s.flushOrphans()
}

// others lists the live processes TerminateAll must stop: as PID 1 every
// process in /proc but itself; otherwise its descendants. Spared ones are
// left out.
func (s *Supervisor) others() []procEntry {
	all := s.liveDescendants()
	if s.pid1 {
		all = allProcesses(s.procDir, s.self)
	}
	out := all[:0]
	for _, e := range all {
		if !s.isSpared(e) {
			out = append(out, e)
		}
	}
	return out
}

// signalGroupOnce sends SIGTERM to c's group unless it was already sent.
func (s *Supervisor) signalGroupOnce(c *Child, sig syscall.Signal) {
	s.mu.Lock()
	sent := c.termSent
	var err error
	if !sent {
		err = unix.Kill(-c.pid, sig)
		c.termSent = err == nil
	}
	s.mu.Unlock()
	if !sent && err == nil {
		s.forwarded.Add(1)
		s.log.Info("signal forwarded", zap.String("signal", signalName(sig)), zap.Int("pgid", c.pid))
	}
}

// terminateRest sends SIGTERM, once, to the descendants left after the main
// child exited: its process group if nothing signalled it yet, and every
// descendant outside that group.
func (s *Supervisor) terminateRest(c *Child, stopping bool) {
	n := 0
	for _, d := range descendants(s.procDir, s.self) {
		// The group was signalled already, or is signalled below.
		if d.zombie || d.pgid == c.pid {
			continue
		}
		if unix.Kill(d.pid, unix.SIGTERM) == nil {
			n++
		}
	}
	if !stopping {
		if unix.Kill(-c.pid, unix.SIGTERM) == nil {
			n++
		}
	}
	if n > 0 {
		s.log.Info("terminating remaining processes", zap.Int("count", n), zap.Duration("timeout", s.stopTimeout))
	}
}

// timeout SIGKILLs c's group and the processes list returns (live ones);
// with all, as PID 1, every process of the namespace.
func (s *Supervisor) timeout(c *Child, all bool, list func() []procEntry) {
	remaining := len(list())
	s.log.Warn("stop timeout reached", zap.Duration("timeout", s.stopTimeout), zap.Int("remaining", remaining))
	if s.notify != nil {
		s.notify("StopTimeout", fmt.Sprintf("stop timeout %s reached: SIGKILL to %d remaining processes", s.stopTimeout, remaining))
	}

	killed := make(map[int]bool)
	unix.Kill(-c.pid, unix.SIGKILL)
	if s.pid1 && all {
		s.signalAll(unix.SIGKILL)
	}
	// A process may fork between listing and killing: go round a few times.
	for round := 0; round < 3; round++ {
		more := false
		for _, d := range list() {
			if killed[d.pid] {
				continue
			}
			if unix.Kill(d.pid, unix.SIGKILL) == nil {
				killed[d.pid] = true
				more = true
			}
		}
		if !more {
			break
		}
	}
	// kill(-1) and the group kill may have reached processes before the walk.
	s.log.Warn("SIGKILL sent", zap.Int("count", max(remaining, len(killed))))
}

// afterKill waits, bounded, for c to be reaped and for the rest to go
// (restGone, which gives up when its channel fires), and returns c's exit
// code (137 when the kill reached it).
func (s *Supervisor) afterKill(c *Child, restGone func(<-chan time.Time) bool) int {
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-c.Done():
	case <-t.C:
		s.log.Error("child survived SIGKILL", zap.Int("pid", c.pid), zap.Duration("wait", killWait))
		return 128 + int(unix.SIGKILL)
	}
	if !restGone(t.C) {
		s.log.Error("processes survived SIGKILL", zap.Duration("wait", killWait))
	}
	return c.ExitCode()
}
