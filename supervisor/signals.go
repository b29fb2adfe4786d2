package supervisor

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/apache/doris-entrypoint/supervisor/rtsig"
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
func ForwardedSignals() []os.Signal {
	sigs := []os.Signal{
		unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT,
	}
	for s := sigRTMin; s <= sigRTMax; s++ { // 34 is caught by rtsig, not os/signal
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}

// Signals is the supervisor's signal intake. Create it with [NotifySignals]
// as early as possible in main, so that a SIGTERM arriving while the process
// is still getting ready is queued rather than lost.
type Signals struct {
	forward chan os.Signal // signals to forward (and SIGTERM: stop)
	child   chan os.Signal // SIGCHLD, coalesced
}

// NotifySignals starts catching the forwarded signals and SIGCHLD.
func NotifySignals() *Signals {
	s := &Signals{
		// Standard signals coalesce in the kernel; the buffer only has to
		// absorb a burst of queued real-time signals.
		forward: make(chan os.Signal, 128),
		// One pending SIGCHLD is enough: every wake-up reaps until empty.
		child: make(chan os.Signal, 1),
	}
	signal.Notify(s.child, unix.SIGCHLD)
	signal.Notify(s.forward, ForwardedSignals()...)
	// os/signal cannot catch SIGRTMIN; should this fail, the signal keeps
	// its default action, which PID 1 is immune to.
	_ = rtsig.Notify(s.forward)
	return s
}

// Stop stops the delivery of signals to s.
func (s *Signals) Stop() {
	signal.Stop(s.forward)
	signal.Stop(s.child)
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
