//go:build !amd64 && !arm64

package sigfwd

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// sync queues the marker behind the events already sent.
func (f *Forwarder) sync() {
	go func() { f.events <- Event{} }()
}

// install falls back to os/signal: forwarding happens on a goroutine.
func (f *Forwarder) install(sigs []syscall.Signal) error {
	c := make(chan os.Signal, 256)
	list := make([]os.Signal, len(sigs))
	for i, s := range sigs {
		list[i] = s
	}
	signal.Notify(c, list...)
	go func() {
		for s := range c {
			sig := s.(syscall.Signal)
			ev := Event{Signal: sig}
			if pgid := int(atomic.LoadInt64(&targetPGID)); pgid > 0 && syscall.Kill(-pgid, sig) == nil {
				ev.Forwarded, ev.PGID = true, pgid
			}
			f.events <- ev
		}
	}()
	return nil
}
