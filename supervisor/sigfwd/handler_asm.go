//go:build amd64 || arm64

package sigfwd

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// handler is the assembly signal handler; handlerAddr returns its entry.
func handler()
func handlerAddr() uintptr

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on amd64
// and arm64.
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

const (
	saOnstack  = 0x08000000
	saRestart  = 0x10000000
	saRestorer = 0x04000000
	// The event byte: the signal number, with this bit when forwarded.
	forwardedBit = 0x80
)

func (f *Forwarder) install(sigs []syscall.Signal) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("sigfwd: pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		return fmt.Errorf("sigfwd: pipe: %w", err)
	}
	pipeFD = int64(p[1])
	// Borrow the runtime's restorer from a signal it always handles.
	var goAct kernelSigaction
	if err := rtSigaction(int(syscall.SIGURG), nil, &goAct); err != nil {
		return err
	}
	act := kernelSigaction{
		handler:  uint64(handlerAddr()),
		flags:    saOnstack | saRestart | (goAct.flags & saRestorer),
		restorer: goAct.restorer,
		mask:     ^uint64(0), // one handler at a time per thread
	}
	for _, s := range sigs {
		if err := rtSigaction(int(s), &act, nil); err != nil {
			return err
		}
	}
	go f.read(os.NewFile(uintptr(p[0]), "sigfwd"))
	return nil
}

// read turns the handler's 8-byte records (uint32 signal|forwardedBit,
// int32 pgid, little-endian; pipe writes this small are atomic) into events.
func (f *Forwarder) read(r *os.File) {
	buf := make([]byte, 8*64)
	for {
		n, err := r.Read(buf)
		for rec := buf[:n-n%8]; len(rec) >= 8; rec = rec[8:] {
			word := binary.LittleEndian.Uint32(rec)
			ev := Event{Signal: syscall.Signal(word &^ forwardedBit), Forwarded: word&forwardedBit != 0}
			if ev.Forwarded {
				ev.PGID = int(int32(binary.LittleEndian.Uint32(rec[4:])))
			}
			f.events <- ev
		}
		if err != nil {
			return
		}
	}
}

// syncWait bounds how long sync waits for handlers in flight (4).
const syncWait = 500 * time.Millisecond

// sync writes a zero record to the pipe, behind the handler's records,
// once no handler is between its kill and its record (4).
func (f *Forwarder) sync() {
	for deadline := time.Now().Add(syncWait); atomic.LoadInt64(&inflight) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Microsecond)
	}
	var rec [8]byte
	unix.Write(int(pipeFD), rec[:])
}

func rtSigaction(sig int, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return fmt.Errorf("sigfwd: rt_sigaction(%d): %w", sig, e)
	}
	return nil
}
