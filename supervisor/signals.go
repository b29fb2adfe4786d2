package supervisor

import (
	"math/bits"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/earlystart/hold"
	"github.com/apache/doris-entrypoint/supervisor/sigfwd"
	"golang.org/x/sys/unix"
)

// Real-time signal range as seen by C programs (glibc reserves 32 and 33).
const (
	sigRTMin = 34
	sigRTMax = 64
)

// ForwardedSignals returns the signals the supervisor forwards to the main
// child's process group: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
// SIGWINCH, SIGCONT and the real-time signals 34..64.
func ForwardedSignals() []syscall.Signal {
	sigs := []syscall.Signal{
		unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT,
	}
	for s := sigRTMin; s <= sigRTMax; s++ {
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}

// Signals is the supervisor's signal intake. Create it with [NotifySignals]
// as early as possible in main, so that a SIGTERM arriving while the process
// is still getting ready is queued rather than lost.
type Signals struct {
	events    <-chan sigfwd.Event // forwarded signals (and SIGTERM: stop)
	setTarget func(pgid int)      // where the handler forwards to
	sync      func()              // queue a marker event (Signal 0) behind the others
	child     chan os.Signal      // SIGCHLD, coalesced
}

// NotifySignals starts catching the forwarded signals and SIGCHLD. The
// forwarded ones are sent on to the main child's process group from inside
// the signal handler (package sigfwd) as soon as a child runs. Those that
// arrived since the process started (held by package hold from the entry
// point on, or kept blocked, pending in the kernel) are raised again, or
// unblocked, once the handler is in place, and come out of the intake as if
// they had just arrived.
//
// It also catches SIGPIPE, and drops it: a write to stderr whose reader has
// gone (the container runtime's log pipe) then fails with EPIPE instead of
// ending the program, which as PID 1 means exit 2 and the kernel SIGKILLing
// the child. Caught, not ignored: an ignored signal stays ignored across
// exec, and the child must get SIGPIPE's default.
func NotifySignals() (*Signals, error) {
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	fwd, err := sigfwd.Start(ForwardedSignals()...)
	if err != nil {
		return nil, err
	}
	// One pending SIGCHLD is enough: every wake-up reaps until empty.
	s := &Signals{events: fwd.Events(), setTarget: fwd.SetTarget, sync: fwd.Sync, child: make(chan os.Signal, 1)}
	signal.Notify(s.child, unix.SIGCHLD)
	self := os.Getpid()
	for held := hold.Take(); held != 0; held &= held - 1 {
		unix.Kill(self, syscall.Signal(bits.TrailingZeros64(held)+1))
	}
	if err := earlystart.ReceiveKept(); err != nil {
		return nil, err
	}
	return s, nil
}

// signalName returns "SIGTERM" style names, "SIGRTMIN+n" for real-time ones.
func signalName(sig syscall.Signal) string {
	if n := int(sig); n >= sigRTMin && n <= sigRTMax {
		if n == sigRTMin {
			return "SIGRTMIN"
		}
		return "SIGRTMIN+" + strconv.Itoa(n-sigRTMin)
	}
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}
