// Package rtsig catches SIGRTMIN (signal 34), which os/signal cannot.
//
// The Go runtime keeps signal 34 for cgo builds on musl and never installs
// its handler for it, so signal.Notify(c, syscall.Signal(34)) leaves the
// kernel's default action: the signal terminates the process. A supervisor
// that promises to forward every real-time signal needs it, so this package
// installs a tiny assembly handler that writes one byte to a non-blocking
// pipe (async-signal-safe, never blocks, touches no Go state), and a
// goroutine turns each byte into a delivery on the caller's channel.
//
// Only for static (CGO_ENABLED=0) binaries, where nothing else uses 34.
package rtsig

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SIGRTMIN is the first real-time signal as C programs number it.
const SIGRTMIN = syscall.Signal(34)

// Read by the assembly handler.
var (
	pipeFD int64 = -1
	oneB   byte  = 34
)

// handlerAddr returns the entry of the assembly handler.
func handlerAddr() uintptr

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on amd64
// and arm64: handler, flags, restorer, mask.
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestart  = 0x10000000
	saRestorer = 0x04000000
)

// Notify delivers SIGRTMIN to c from now on. It may be called once per
// process.
func Notify(c chan<- os.Signal) error {
	if pipeFD >= 0 {
		return errors.New("rtsig: Notify called twice")
	}
	if !supported {
		return errors.New("rtsig: not supported on this architecture")
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("rtsig: pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		return fmt.Errorf("rtsig: pipe: %w", err)
	}
	pipeFD = int64(p[1])
	// Borrow the runtime's restorer (and alternate stack use) from a signal
	// it does handle; SIGURG always has its handler installed.
	var goAct kernelSigaction
	if err := rtSigaction(int(syscall.SIGURG), nil, &goAct); err != nil {
		return err
	}
	act := kernelSigaction{
		handler:  uint64(handlerAddr()),
		flags:    saOnstack | saRestart | (goAct.flags & saRestorer),
		restorer: goAct.restorer,
	}
	if err := rtSigaction(int(SIGRTMIN), &act, nil); err != nil {
		return err
	}
	r := os.NewFile(uintptr(p[0]), "rtsig")
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := r.Read(buf)
			for i := 0; i < n; i++ {
				c <- SIGRTMIN
			}
			if err != nil {
				return
			}
		}
	}()
	return nil
}

func rtSigaction(sig int, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return fmt.Errorf("rtsig: rt_sigaction(%d): %w", sig, e)
	}
	return nil
}
