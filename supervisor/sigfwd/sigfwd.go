// Package sigfwd forwards signals to a process group from inside the signal
// handler, before any goroutine is scheduled.
//
// os/signal delivers a signal through two goroutine wake-ups (the runtime's
// signal queue, then the caller's channel) before anything can forward it;
// on a busy 2-core VM that costs tenths of a millisecond, several times what
// tini needs. Here a small assembly handler does the work a C init would do:
// if a target process group is set it calls kill(-pgid, sig) at once, then
// writes one byte (the signal, and whether it was forwarded) to a
// non-blocking pipe. A goroutine turns each byte into an [Event] for the
// supervisor's bookkeeping and logs. The handler is async-signal-safe: it
// makes three system calls and touches no Go state.
//
// It also catches SIGRTMIN (34), which the Go runtime keeps for cgo builds
// on musl and never lets os/signal catch: the default action would kill the
// supervisor instead of the signal being forwarded.
//
// A record and the Sync marker, in order:
//
//  1. The handler counts itself in flight (inflight) before its kill.
//  2. The kill may end the child at once; the supervisor reaps it and, to
//     log every signal before it exits, calls Sync.
//  3. The handler writes its record, then counts itself out.
//  4. Sync waits (bounded) until no handler is in flight, then writes the
//     marker: a record whose kill came before the Sync is ahead of it. (A
//     handler preempted between 1 and 3 under load once let the marker
//     pass it, and the supervisor exited without the SIGTERM's line.)
//
// The handler needs package-level variables (a signal handler has no other
// way to find its state), so there is one Forwarder per process. On
// architectures without the assembly handler, os/signal is used instead with
// the same API, and SIGRTMIN is not caught.
//
// Only for static (CGO_ENABLED=0) binaries, where nothing else uses 34.
package sigfwd

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
)

// SIGRTMIN is the first real-time signal as C programs number it, the one
// os/signal cannot catch.
const SIGRTMIN = syscall.Signal(34)

// Event is one signal received by the process. An Event with Signal 0 is
// the marker queued by [Forwarder.Sync].
type Event struct {
	Signal syscall.Signal
	// Forwarded reports that the handler sent the signal to the target
	// process group (kill succeeded).
	Forwarded bool
	// PGID is the group it was sent to, when Forwarded.
	PGID int
}

// Forwarder receives signals and forwards them to the target group.
type Forwarder struct {
	events chan Event
}

// Read and written by the assembly handler; see the package comment.
var (
	targetPGID int64      // 0: no target
	ownerPID   int64      // the handler acts only in this process, not in a forked child before exec
	pipeFD     int64 = -1 // write end of the event pipe
	inflight   int64      // handlers between their kill and their record (amd64, arm64)
	started    atomic.Bool
)

// Start installs the handler for sigs. It may succeed once per process.
func Start(sigs ...syscall.Signal) (*Forwarder, error) {
	if !started.CompareAndSwap(false, true) {
		return nil, errors.New("sigfwd: Start called twice")
	}
	f := &Forwarder{events: make(chan Event, 256)}
	ownerPID = int64(os.Getpid())
	if err := f.install(sigs); err != nil {
		return nil, err
	}
	return f, nil
}

// Events delivers every signal received, in order.
func (f *Forwarder) Events() <-chan Event { return f.events }

// SetTarget makes pgid the group that receives forwarded signals; 0 stops
// forwarding.
func (f *Forwarder) SetTarget(pgid int) { atomic.StoreInt64(&targetPGID, int64(pgid)) }

// Sync queues a marker Event (Signal 0) behind every signal received so
// far: once the marker comes out of Events, everything before it has.
func (f *Forwarder) Sync() { f.sync() }

// Target returns the current target group, 0 when none.
func (f *Forwarder) Target() int { return int(atomic.LoadInt64(&targetPGID)) }
