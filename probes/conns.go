package probes

import (
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// maxLoopbackConns is the loopback connections' own limit (exec probes,
// status); maxConns is the network's.
const maxLoopbackConns = 16

// connLimit bounds the endpoint's open connections so that no client on
// the pod network can hold a probe back by connecting and waiting. Every
// connection is accepted at once (none waits in the kernel's backlog
// behind others); when one arrives with its pool full, the connection of
// that pool that has waited longest without a request in progress — an
// idle keep-alive one, or one still sending its first headers (slowloris)
// — is closed to make room. A probe sends its request as soon as it has
// connected, so it is answered at once whatever the other clients do; an
// idle client loses nothing but its connection. Only when every
// connection of the pool is in the middle of a request (each bounded by
// the write timeout; held long polls are at most maxWaiters) is the
// newcomer closed instead. (netutil.LimitListener does not fit: it makes
// the newcomer wait for a slot, which an idle connection holds until its
// idle timeout.)
//
// Loopback connections — the exec probe and `status`, from inside the
// pod — have a pool of their own, so that not even a flood of new
// connections from the pod network, which oldest-first eviction cannot
// tell from probes, reaches them.
//
// track is the http.Server's ConnState hook, which net/http calls in the
// accept loop for a new connection and from the connection's goroutine
// for the later states.
type connLimit struct {
	log *zap.Logger

	mu     sync.Mutex
	pools  [2]connPool // network, loopback
	warned bool        // the first eviction has been logged
}

// connPool is the connections of one origin.
type connPool struct {
	max   int
	conns map[net.Conn]connEntry
}

// connEntry is one open connection: whether a request is in progress, and
// since when it is in its state.
type connEntry struct {
	busy  bool
	since time.Time
}

func newConnLimit(network, loopback int, log *zap.Logger) *connLimit {
	return &connLimit{log: log, pools: [2]connPool{
		{max: network, conns: make(map[net.Conn]connEntry, network)},
		{max: loopback, conns: make(map[net.Conn]connEntry, loopback)},
	}}
}

// pool is the pool of c; l.mu is held.
func (l *connLimit) pool(c net.Conn) *connPool {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		return &l.pools[1]
	}
	return &l.pools[0]
}

// track follows c into state st (http.Server.ConnState).
func (l *connLimit) track(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	p := l.pool(c)
	switch st {
	case http.StateNew:
		if len(p.conns) >= p.max {
			victim := p.longestWaiting()
			if victim == nil {
				c.Close() // every connection of the pool is mid-request
				return
			}
			delete(p.conns, victim)
			victim.Close()
			if !l.warned {
				// One line, not one per eviction: under a flood it would be
				// the flood.
				l.warned = true
				l.log.Warn("probe endpoint full: closing the idle or unfinished connection that waited longest to make room, as often as needed",
					zap.Int("max_conns", p.max), zap.String("closed", victim.RemoteAddr().String()))
			}
		}
		p.conns[c] = connEntry{since: now}
	case http.StateActive, http.StateIdle:
		// An evicted connection is no longer tracked and stays out.
		if _, ok := p.conns[c]; ok {
			p.conns[c] = connEntry{busy: st == http.StateActive, since: now}
		}
	case http.StateHijacked, http.StateClosed:
		delete(p.conns, c)
	}
}

// longestWaiting is the connection without a request in progress that
// entered its state first, or nil.
func (p *connPool) longestWaiting() net.Conn {
	var victim net.Conn
	var since time.Time
	for c, e := range p.conns {
		if !e.busy && (victim == nil || e.since.Before(since)) {
			victim, since = c, e.since
		}
	}
	return victim
}
