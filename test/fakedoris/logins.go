package fakedoris

import (
	"bytes"
	"net"
	"sync"
)

// Logins counts the MySQL logins that reach a fake FE through a listener
// (CountLogins): attempts and refusals per user, read off the wire — the
// client's handshake response names the user, the server's next packet is
// OK or ERR — since go-mysql's server reports neither.
type Logins struct {
	mu             sync.Mutex
	tried, refused map[string]int
}

// CountLogins wraps ln: give the result to ServeFE, read the counts from
// the Logins.
func CountLogins(ln net.Listener) (net.Listener, *Logins) {
	l := &Logins{tried: map[string]int{}, refused: map[string]int{}}
	return loginListener{ln, l}, l
}

// Tried is how many logins as user were attempted.
func (l *Logins) Tried(user string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tried[user]
}

// Refused is how many logins as user failed.
func (l *Logins) Refused(user string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused[user]
}

type loginListener struct {
	net.Listener
	l *Logins
}

func (ll loginListener) Accept() (net.Conn, error) {
	c, err := ll.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &loginConn{Conn: c, l: ll.l}, nil
}

// loginConn watches one connection's handshake.
type loginConn struct {
	net.Conn
	l *Logins

	mu      sync.Mutex
	in, out []byte // the client's bytes until the user is known; the server's after
	user    string
	known   bool // user read
	settled bool // outcome counted
}

func (c *loginConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		c.in = append(c.in, b[:n]...)
		// The handshake response: 4 bytes of packet header, then
		// capabilities (4), max packet size (4), charset (1), 23 zero
		// bytes, and the user name, NUL-terminated.
		if p, ok := packet(c.in); ok && len(p) > 32 {
			if i := bytes.IndexByte(p[32:], 0); i >= 0 {
				c.user, c.known, c.in = string(p[32:32+i]), true, nil
				c.l.mu.Lock()
				c.l.tried[c.user]++
				c.l.mu.Unlock()
			}
		}
	}
	return n, err
}

func (c *loginConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.known && !c.settled {
		c.out = append(c.out, b...)
		// OK (0x00) or ERR (0xff) settles it; an auth switch or more
		// auth data (0xfe, 0x01) comes before one of them.
		for {
			p, ok := packet(c.out)
			if !ok {
				break
			}
			c.out = c.out[4+len(p):]
			if len(p) > 0 && (p[0] == 0x00 || p[0] == 0xff) {
				c.settled = true
				if p[0] == 0xff {
					c.l.mu.Lock()
					c.l.refused[c.user]++
					c.l.mu.Unlock()
				}
				c.out = nil
				break
			}
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// packet is the payload of the first whole MySQL packet in b.
func packet(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if len(b) < 4+n {
		return nil, false
	}
	return b[4 : 4+n], true
}
