package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is Lock's error when another supervisor holds the lock.
var ErrLocked = errors.New("another doris-entrypoint already supervises this DORIS_ROOT")

// Lock makes the caller the one supervisor of its runtime directory (the
// lock file at path, in $DORIS_ROOT/.doris-entrypoint): an exclusive flock,
// held until unlock or until the process exits, whatever way it exits (the
// kernel drops it; the descriptor is close-on-exec, so no child keeps it).
// The file records the holder's pid, for the next one's refusal.
//
// A second `doris-entrypoint fe/be` in the same DORIS_ROOT (fe_entrypoint.sh
// run by hand in a debug session) must not start: it would take over the
// control socket (prestop would stop it, not PID 1) and restore the conf
// and remove the marker under a PID 1 in debug mode. Its error wraps
// ErrLocked and says what to run instead. Any other error (the directory
// cannot be written) leaves no lock, and unlock is a no-op.
func Lock(path string) (unlock func(), err error) {
	noop := func() {}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return noop, fmt.Errorf("supervisor lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return noop, fmt.Errorf("supervisor lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return noop, fmt.Errorf("supervisor lock %s: %w", path, err)
		}
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		return noop, fmt.Errorf("%w (%s, lock %s): not starting a second one; "+
			"to start the component by hand in debug mode, run `doris-entrypoint debug run`", ErrLocked, holder, path)
	}
	// Best effort: the pid only improves the next refusal's message.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
