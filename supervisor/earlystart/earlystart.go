// Package earlystart starts the main child of `doris-entrypoint supervise --
// /abs/path ...` at the process entry point, before the Go runtime
// initialises.
//
// A Go program spends about a millisecond (more on a small VM) in runtime
// start-up and package initialisation before main runs; tini starts its child
// in less. When the binary is linked with
//
//	-ldflags "-E github.com/apache/doris-entrypoint/supervisor/earlystart.entry"
//
// (the Makefile does), this package's assembly entry point runs first. When
// argv is exactly "supervise -- /absolute/path [args...]" and stdin is not a
// terminal, it does what the supervisor would do before starting the child,
// with raw system calls:
//
//   - marks every inherited fd >= 3 close-on-exec (close_range);
//   - becomes a child subreaper when it is not PID 1;
//   - blocks signals, forks, and in the child: joins a new process group,
//     restores the signal mask, execs the command with the same environment,
//     and reports an exec failure's errno on a close-on-exec pipe;
//
// then jumps to the Go runtime's usual entry point. The supervisor adopts the
// child with [Child]. Any other command line, another architecture, or a
// binary linked without the flag takes the ordinary path, where the
// supervisor starts the child itself. Until the supervisor has installed its
// handlers (a few milliseconds), a signal has its default effect on the
// supervisor, as it has in the ordinary path before the child is started.
package earlystart

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Written by the assembly entry point before the runtime starts.
var (
	childPID int64    // the early child, 0 if none
	errPipe  [2]int32 // exec-failure pipe: the child writes errno to [1]
	oldMask  uint64   // signal mask at entry
	allSigs  uint64   = ^uint64(0)
	// The command line the fast path accepts: supervise -- /...
	wordSupervise = [10]byte{'s', 'u', 'p', 'e', 'r', 'v', 'i', 's', 'e', 0}
)

// Child returns the pid of the child started at the entry point, or 0. When
// the exec failed, err is its errno and the child (which exits at once) must
// still be reaped. Child waits for the exec to succeed or fail; it must be
// called once.
func Child() (pid int, err error) {
	if childPID == 0 {
		return 0, nil
	}
	pid = int(childPID)
	fd := int(errPipe[0])
	var b [4]byte
	n := 0
	for n < len(b) {
		m, rerr := unix.Read(fd, b[n:])
		if rerr == unix.EINTR {
			continue
		}
		if rerr != nil || m == 0 {
			break // EOF: the exec succeeded and closed the pipe
		}
		n += m
	}
	unix.Close(fd)
	if n == len(b) {
		return pid, syscall.Errno(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
	return pid, nil
}
