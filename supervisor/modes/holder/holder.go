// Package holder is part of debug mode (package modes): while the pod is in
// debug mode it keeps the component's liveness port open, so that the
// operator's tcpSocket liveness and startup probes pass and the pod stays
// Running (its HTTP readiness port is left closed, so it is NotReady and out
// of the Service). The mode machine opens it at step (4) of its protocol and
// closes it at step (7); the doris-debug hook of the images' older
// entrypoint scripts (modes.HoldWhileDebug) uses it on its own.
//
// On the FE's query_port a MySQL client gets a proper MySQL error packet
// saying the pod is in debug mode and how to leave it, instead of the
// garbage an HTTP listener (today's doris-debug) answers. On the BE's
// heartbeat_service_port a connection is accepted and closed.
package holder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Kind says what a holder answers.
type Kind int

const (
	// MySQL answers every connection with a MySQL ERR packet (FE query_port).
	MySQL Kind = iota
	// AcceptClose accepts and closes (BE heartbeat_service_port).
	AcceptClose
)

// ErrorCode and SQLState of the debug-mode error (ER_UNKNOWN_ERROR, HY000).
const (
	ErrorCode = 1105
	SQLState  = "HY000"
)

// Holder is a listener held open in debug mode.
type Holder struct {
	ln   net.Listener
	kind Kind
	msg  string
	wg   sync.WaitGroup
}

// Listen holds port on every address. msg is the MySQL error message.
func Listen(port int, kind Kind, msg string) (*Holder, error) {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("hold port %d: %w", port, err)
	}
	h := &Holder{ln: ln, kind: kind, msg: msg}
	h.wg.Add(1)
	go h.serve()
	return h, nil
}

// Addr returns the listening address.
func (h *Holder) Addr() net.Addr { return h.ln.Addr() }

// Close stops listening and waits for the accept loop to end.
func (h *Holder) Close() error {
	err := h.ln.Close()
	h.wg.Wait()
	return err
}

func (h *Holder) serve() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		if h.kind == MySQL {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			c.Write(ErrPacket(ErrorCode, SQLState, h.msg))
		}
		c.Close()
	}
}

// ErrPacket is a MySQL ERR packet sent in place of the server greeting, as
// mysqld does for "Too many connections": header (3-byte length, sequence
// 0), 0xFF, error code, '#', SQLSTATE, message. Clients show it as
// "ERROR code (state): message".
func ErrPacket(code uint16, state, msg string) []byte {
	payload := make([]byte, 0, 9+len(msg))
	payload = append(payload, 0xff)
	payload = binary.LittleEndian.AppendUint16(payload, code)
	payload = append(payload, '#')
	payload = append(payload, state...)
	payload = append(payload, msg...)
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, payload...)
}
