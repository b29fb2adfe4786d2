// Package hold keeps a signal that arrives while the process starts, from
// its first instruction until the supervisor's own handlers exist, and hands
// it over then: PID 1 drops a signal it has no handler for, and a SIGTERM
// lost at the start costs the pod its whole grace period and a SIGKILL.
//
// On amd64, with the binary linked with -E .../earlystart.entry (the
// Makefile does), for every command line:
//
//  1. The entry point's first system call blocks the forwarded signals
//     ([Forwarded]) and saves the mask it had (enter, hold_amd64.s). It then
//     installs this package's handler for each of them (one that was ignored
//     stays ignored) and notes argv, envp and AT_EXECFN.
//  2. earlystart may fork the child of "supervise -- /path" there: the child
//     restores the saved mask before its exec, so it starts with the mask
//     PID 1 was given, with every forwarded signal unblocked; the handler,
//     in a forked child before its exec, re-raises a signal with its
//     default action.
//  3. Before the Go runtime starts (leave), the mask becomes the saved one
//     plus [Kept]: SIGUSR1, SIGUSR2, SIGWINCH and 35-64, which the
//     runtime's handler would drop in step 5's window, stay blocked, so
//     the kernel keeps them pending; every other forwarded signal reaches
//     the handler, which sets the signal's bit in a word, nothing else. The
//     runtime copies the mask it starts with into every thread it creates
//     (runtime/proc.go: schedinit saves initSigmask, newm gives it to each
//     M), so Kept stays blocked on its threads; syscall.ForkExec and
//     syscall.Exec pass on the calling thread's mask
//     (syscall_runtime_BeforeFork saves it, AfterForkInChild restores it in
//     the child), so the supervisor's children and `debug run`'s exec start
//     through earlystart.StartChild, on a thread [UnblockKept] has given
//     the mask the process was given. (cluster's `doris_be --version`,
//     which prints a line and exits, does without.)
//  4. The runtime unblocks SIGHUP, SIGINT, SIGQUIT, SIGTERM and 34 on every
//     thread whatever the inherited mask (runtime/signal_unix.go:
//     minitSignalMask drops what blockableSig refuses: _SigUnblock and, in a
//     program, _SigKill and _SigThrow), m0 first, before initsig installs
//     its own handlers. Blocking alone would hand a SIGTERM to SIG_DFL
//     there, which PID 1 discards: the handler must exist by then.
//  5. initsig then replaces the handler with the runtime's for every signal
//     but SIGCONT (_SigDefault) and 34 (_SigSetStack), remembering it in
//     fwdSig, and until this package's init takes them back (the second
//     package initialised after the runtime: it imports nothing; some
//     0.3-0.5 ms of runtime.main: sysmon, gcenable) the runtime handles
//     those that are not blocked (Kept is). SIGHUP, SIGINT and SIGTERM, not Notify'd, go to dieFromSignal,
//     which clears handlingSig and raises the signal again, so sigfwdgo
//     forwards it to fwdSig: this handler, called from the runtime rather
//     than by the kernel (its return address is not our restorer). It then
//     rescues the process: with every signal masked, as in any handler, it
//     queues what it holds on its own thread again (a thread's pending
//     signals and its mask survive exec) and re-executes AT_EXECFN with the
//     same argv and environment plus one last variable,
//     DORIS_ENTRYPOINT_HELD=<mask><carry>, which the next image's entry
//     point removes. It carries the saved mask and earlystart's record of a
//     child it already started, so that child is adopted, not started
//     twice. Another thread caught the same way hands its signal to the
//     rescuing one and waits to be ended by the exec. (A SIGTERM sent the
//     instant PID 1 begins lands here in about one run in seven.)
//  6. init takes the handlers back (the runtime keeps thinking it handles
//     them, as it does once package sigfwd has installed its own). The
//     rescue stays armed: a thread whose SIGTERM the runtime's handler
//     caught just before may forward it after init, or raise it again on
//     its own thread (dieFromSignal's tgkill), which the kernel now delivers
//     to this handler directly. So once init has begun, a signal this
//     process raised on its own thread (siginfo: SI_TKILL, its own pid) is
//     rescued as well; missed, dieFromSignal would next make it SIG_DFL,
//     raise it once more (dropped by PID 1) and exit 2 (about one run in a
//     thousand of a SIGTERM at the child's first instant did). Nothing else
//     reaches the runtime's handler any more.
//  7. NotifySignals (package supervisor) installs sigfwd's handler for the
//     same signals, then [Take]s what was held and raises it again, and
//     starts the thread that receives Kept (earlystart.ReceiveKept: a
//     goroutine locked to a thread of its own, the one with them unblocked,
//     as os/signal sets the mask of the thread it locks as it likes), where
//     what the kernel kept pending is delivered at once: the supervisor sees
//     it as if it had just arrived (a SIGTERM is a stop request; forwarded
//     to the child once one runs).
//  8. The commands that do not supervise (status, probe, prestop, ...)
//     [Release] the hold at the top of main: the rescue is disarmed, the
//     runtime's handlers and the original dispositions come back
//     (os/signal.Notify would otherwise not reinstall the runtime's handler,
//     as handlingSig is still set) and what was held is raised again, with
//     Go's default effect. Kept stays blocked, pending, as good as dropped,
//     which is Go's default for them too.
//
// What remains: in step 5's window SIGQUIT, which the runtime unblocks
// on every thread and whose handler it replaces (_SigThrow, not
// blockable in a program), ends the program with a goroutine dump, as
// Go's SIGQUIT does: holding it would take the runtime's own tables. A
// real-time signal is kept once however often it came (a bit each, or one
// pending instance). Other architectures have no entry point: there a
// signal before NotifySignals has Go's default effect (SIGHUP, SIGINT,
// SIGTERM: exit 2 as PID 1, from dieFromSignal; SIGQUIT: a dump; the
// others: dropped).
package hold

// Forwarded is the set of signals held and forwarded, bit sig-1: SIGHUP,
// SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGCONT, SIGWINCH and 34–64
// (supervisor.ForwardedSignals, which a test holds to it).
const Forwarded uint64 = 1<<(1-1) | 1<<(2-1) | 1<<(3-1) | 1<<(10-1) | 1<<(12-1) |
	1<<(15-1) | 1<<(18-1) | 1<<(28-1) | (1<<64 - 1<<(34-1)) // 34–64

// Kept is the part of [Forwarded] that stays blocked while the Go runtime
// starts (step 3): SIGUSR1, SIGUSR2, SIGWINCH and 35–64, the ones its
// handler would drop.
const Kept uint64 = 1<<(10-1) | 1<<(12-1) | 1<<(28-1) | (1<<64 - 1<<(35-1))

// KeptBlocked returns the signals of [Kept] that the runtime's threads keep
// blocked (step 3): Kept less what the process was given blocked; 0 without
// the entry point. earlystart unblocks them on a thread of their own once they
// can be handled, and on the thread that starts a program.
func KeptBlocked() uint64 { return keptBlocked() }

// sigaction is struct sigaction as rt_sigaction(2) takes it on amd64.
type sigaction struct {
	handler, flags, restorer, mask uint64
}

const sigIgn = 1 // SIG_IGN

// Take ends the hold once the caller's own handler is installed for every
// forwarded signal: it returns the signals held so far (bit sig-1) and
// forgets them. Without the entry point it returns 0.
func Take() uint64 { return take() }

// Release ends the hold for a command that does not supervise: the runtime's
// handlers and the original dispositions are put back, and the signals held
// so far are raised again, with Go's default effect.
func Release() { release() }
