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
// adopts the child the first one started instead of forking another. The
// signals hold keeps blocked while the runtime starts are received by
// [ReceiveKept]'s thread, and every later child starts through [StartChild]
// with the mask the process was given.
package earlystart

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/apache/doris-entrypoint/supervisor/earlystart/hold" // the entry point calls it
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

// StartChild runs start, which starts a program (syscall.ForkExec, or
// syscall.Exec in place), on a thread whose signal mask is the one this
// process was given, so that the program inherits it: the Go runtime's
// threads keep hold.KeptBlocked blocked (package hold, step 3), and ForkExec
// and Exec pass the calling thread's mask on. The supervisor's children and
// `debug run`'s exec start through it.
func StartChild(start func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unblockHere(hold.KeptBlocked()); err != nil {
		return err
	}
	return start()
}

// ReceiveKept starts the thread that receives hold.KeptBlocked (package
// hold, step 7), once their handler is in place: a goroutine locked to a
// thread of its own for the life of the process, with them unblocked (the
// runtime's threads keep them blocked, StartChild's only unblock them in
// passing, and os/signal sets the mask of the thread it locks as it likes).
// What the kernel kept pending is delivered there at once. Without the entry
// point it does nothing.
func ReceiveKept() error {
	set := hold.KeptBlocked()
	if set == 0 {
		return nil
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread stays this goroutine's
		started <- unblockHere(set)
		select {}
	}()
	return <-started
}

// unblockHere unblocks set on the calling thread only (rt_sigprocmask acts
// on the caller).
func unblockHere(set uint64) error {
	if set == 0 {
		return nil
	}
	const sigUnblock, sigsetSize = 1, 8 // SIG_UNBLOCK; the kernel's sigset_t
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock, uintptr(unsafe.Pointer(&set)), 0, sigsetSize, 0, 0); e != 0 {
		return fmt.Errorf("unblocking the kept signals: %w", e)
	}
	return nil
}
