// Package control is the supervisor's local control socket: `doris-entrypoint
// prestop` (the operator's preStop hook, fe_prestop.sh / be_prestop.sh) asks
// PID 1 over it to stop gracefully and learns from PID 1 when the stop is
// complete. A unix socket in the container's filesystem, mode 0600: nothing
// on the network can stop the pod.
//
// # The stop protocol
//
// The hook runs inside the container's PID namespace (a kubelet exec hook
// does). When PID 1 exits, the kernel SIGKILLs every other process of the
// namespace: a hook still waiting then would exit 137, which a kubelet
// records as a Warning FailedPreStopHook. So PID 1 says when it is done and
// waits for the hook to leave first:
//
//  1. The hook connects and sends "stop\n". A request is at most maxRequest
//     bytes; anything else closes the connection unanswered.
//  2. PID 1 spares the hook's process (its pid from SO_PEERCRED; the spare
//     callback) from the stop, which as PID 1 otherwise signals every process
//     of the namespace (debug mode's SIGTERM, the stop timeout's SIGKILL),
//     begins the graceful stop as SIGTERM would (the stop callback), then
//     answers "stopping\n". The connection stays open: the stop may take
//     minutes (a scale-in's decommission runs before the child's stop).
//  3. Once the stop is complete — modes.Run has returned: the child and every
//     other process are gone, the conf is restored, the exit code is known,
//     whatever it is — PID 1 calls [Server.Done], which writes "stopped CODE\n"
//     to every hook that waits, and at once to any hook that asks later.
//  4. The hook reads it and exits 0 with the connection still open
//     ([Stop] keeps it): the kernel closes it as the hook's process exits,
//     when its exit code can no longer change.
//  5. PID 1 ([Server.WaitHooks]) waits for every connection to close, at most
//     a bounded moment (1 s), then exits.
//  6. The hook gives up at its own deadline (the stop timeout + 5 s) and says
//     it is still stopping; a connection closed without "stopped" (a PID 1
//     killed, or one without step 3) counts as stopped; a socket that cannot
//     be reached is an error (exit 1).
package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxRequest bounds what is read of a request: "stop\n" is all there is,
// and a client that sends bytes without a newline must not grow PID 1.
const maxRequest = 4 << 10

// Server is PID 1's side of the control socket.
type Server struct {
	path  string
	stop  func(reason string)
	spare func(pid int)

	doneOnce sync.Once
	done     chan struct{} // closed by Done
	code     int           // set before done is closed

	mu      sync.Mutex
	open    int           // connections accepted and not closed
	changed chan struct{} // closed and replaced when open drops
}

// NewServer returns a server for the socket at path that, for every "stop"
// request, calls spare with the requesting process's pid (when it is known
// in this PID namespace; spare may be nil), then stop(reason).
func NewServer(path string, stop func(reason string), spare func(pid int)) *Server {
	return &Server{path: path, stop: stop, spare: spare, done: make(chan struct{}), changed: make(chan struct{})}
}

// Serve listens on the socket until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	os.Remove(s.path) // a socket left by a previous run
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		s.mu.Lock()
		s.open++ // counted from the accept: WaitHooks also waits for one that has not asked yet
		s.mu.Unlock()
		go func() {
			defer s.closed(c)
			s.handle(ctx, c)
		}()
	}
}

// handle runs one connection through steps 1, 2, 3 and 5. A ctx that ends
// before Done closes it unanswered, as the process's exit would.
func (s *Server) handle(ctx context.Context, c net.Conn) {
	// (1) Past maxRequest bytes without a newline the read ends (EOF), and
	// what was read is not "stop": closed at once.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadString('\n')
	if strings.TrimSpace(line) != "stop" {
		return
	}
	// (2)
	c.SetDeadline(time.Time{})
	if pid := peerPID(c); pid > 0 && s.spare != nil {
		s.spare(pid)
	}
	s.stop("prestop")
	fmt.Fprintln(c, "stopping")
	// (3)
	select {
	case <-s.done:
	case <-ctx.Done():
		return
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "stopped %d\n", s.code); err != nil {
		return
	}
	// (5) EOF when the hook's process has exited (4); WaitHooks bounds how
	// long PID 1 waits for it, this deadline how long the goroutine lives.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, io.LimitReader(c, maxRequest))
}

// peerPID is the pid of the process that connected c, as this PID
// namespace sees it: 0 when it is not in it, or unknown.
func peerPID(c net.Conn) int {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil {
		return 0
	}
	return int(cred.Pid)
}

func (s *Server) closed(c net.Conn) {
	c.Close()
	s.mu.Lock()
	s.open--
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Done says the stop is complete and PID 1 exits with code (step 3): every
// hook waiting on the socket, and every later one, is told so. Calls after
// the first change nothing.
func (s *Server) Done(code int) {
	s.doneOnce.Do(func() {
		s.code = code
		close(s.done)
	})
}

// WaitHooks waits until no connection is open (step 5: the hooks told by
// Done have exited), at most timeout, and returns how many are still open.
func (s *Server) WaitHooks(timeout time.Duration) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		open, changed := s.open, s.changed
		s.mu.Unlock()
		if open == 0 {
			return 0
		}
		select {
		case <-changed:
		case <-deadline.C:
			return open
		}
	}
}

// held keeps the connections of completed stops referenced (a collected
// net.Conn would be closed by its finalizer) and open until the process
// exits: step 4.
var held struct {
	sync.Mutex
	conns []net.Conn
}

// Stop asks the supervisor at path to stop and waits until the stop is
// complete or until timeout. stopped says it completed within the time;
// code is the supervisor's exit code, -1 when it closed the connection
// without saying. On "stopped" the connection stays open until this process
// exits (step 4): the caller must exit soon after, the supervisor waits
// for it.
func Stop(path string, timeout time.Duration) (code int, stopped bool, err error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return -1, false, fmt.Errorf("control socket %s: %w", path, err)
	}
	keep := false
	defer func() {
		if !keep {
			c.Close()
		}
	}()
	// (1)
	if _, err := fmt.Fprintln(c, "stop"); err != nil {
		return -1, false, err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	// (2)
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "stopping" {
		return -1, false, fmt.Errorf("control socket %s: unexpected answer %q: %v", path, line, err)
	}
	// (3)
	line, err := r.ReadString('\n')
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return -1, false, nil // (6)
	case err != nil:
		return -1, true, nil // (6) closed without saying
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "stopped ")
	if code, err = strconv.Atoi(n); !ok || err != nil {
		return -1, false, fmt.Errorf("control socket %s: unexpected answer %q", path, line)
	}
	// (4)
	keep = true
	held.Lock()
	held.conns = append(held.conns, c)
	held.Unlock()
	return code, true, nil
}
