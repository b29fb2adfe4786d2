// Package control is the supervisor's local control socket: `doris-entrypoint
// prestop` (the operator's preStop hook, fe_prestop.sh / be_prestop.sh) asks
// PID 1 over it to begin the graceful stop, and waits on the open connection
// until PID 1 exits (the kernel closes it) or its own deadline. A unix socket
// in the container's filesystem, mode 0600: nothing on the network can stop
// the pod.
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
	"strings"
	"time"
)

// maxRequest bounds what is read of a request: "stop\n" is all there is,
// and a client that sends bytes without a newline must not grow PID 1.
const maxRequest = 4 << 10

// Serve listens on path and calls stop(reason) for every "stop" request; the
// connection stays open so that the client learns when the process exits.
// It returns when ctx ends.
func Serve(ctx context.Context, path string, stop func(reason string)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	os.Remove(path) // a socket left by a previous run
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
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
		go func() {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// Past maxRequest bytes without a newline the read ends (EOF),
			// and what was read is not "stop": closed at once.
			line, _ := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadString('\n')
			if strings.TrimSpace(line) != "stop" {
				c.Close()
				return
			}
			fmt.Fprintln(c, "stopping")
			stop("prestop")
			// Left open on purpose: closed when this process exits.
		}()
	}
}

// Stop asks the supervisor at path to stop and waits until it has exited or
// until timeout. stopped says it exited within the time.
func Stop(path string, timeout time.Duration) (stopped bool, err error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return false, fmt.Errorf("control socket %s: %w", path, err)
	}
	defer c.Close()
	if _, err := fmt.Fprintln(c, "stop"); err != nil {
		return false, err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "stopping" {
		return false, fmt.Errorf("control socket %s: unexpected answer %q: %v", path, line, err)
	}
	_, err = r.ReadByte() // EOF when the supervisor exits
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, nil
	}
	return true, nil
}
