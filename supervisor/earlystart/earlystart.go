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
//     restores the signal mask PID 1 was given, execs the command with the
//     same environment, and reports an exec failure's errno on a
//     close-on-exec pipe, which the parent reads before it goes on (so the
//     exec has the CPU to itself);
//
// then jumps to the Go runtime's usual entry point. The supervisor adopts the
// child with [Child]. Any other command line, another architecture, or a
// binary linked without the flag takes the ordinary path, where the
// supervisor starts the child itself.
//
// Before any of that, on every command line, the entry point calls package
// hold, which blocks the forwarded signals with its first system call and
// keeps whatever arrives until the supervisor's handlers exist (see its
// numbered steps); a rescue there may start this image again, which then
// adopts the child the first one started instead of forking another.
package earlystart

import (
	"syscall"

	_ "github.com/apache/doris-entrypoint/supervisor/earlystart/hold" // the entry point calls it
)

// Written by the assembly entry point before the runtime starts.
var (
	childPID  int64    // the early child, 0 if none
	errPipe   [2]int32 // exec-failure pipe: the child writes errno to [1]
	execRead  int64    // bytes read from errPipe: 0 = exec succeeded, 4 = failed
	execErrno uint32   // the failed exec's errno
	allSigs   uint64   = ^uint64(0)
	// The command line the fast path accepts: supervise -- /...
	wordSupervise = [10]byte{'s', 'u', 'p', 'e', 'r', 'v', 'i', 's', 'e', 0}
)

// Child returns the pid of the child started at the entry point, or 0. When
// the exec failed, err is its errno and the child (which exits at once with
// 127 or 126) must still be reaped.
func Child() (pid int, err error) {
	if childPID == 0 {
		return 0, nil
	}
	if execRead == 4 {
		return int(childPID), syscall.Errno(execErrno)
	}
	return int(childPID), nil
}

// Kill kills the early child's process group and reaps the child, for when
// it cannot be supervised (a bad environment).
func Kill(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
}
