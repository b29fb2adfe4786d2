package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes for a child that could not be started, as a shell gives them.
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// Command describes the main child.
type Command struct {
	// Path is the program to run. Without a slash it is looked up in PATH.
	Path string
	// Args holds the command-line arguments, without the program name.
	Args []string
	// Dir is the working directory; empty means the supervisor's own.
	Dir string
	// Env is the environment; nil means the supervisor's own.
	Env []string
}

// ExecError is returned by [Supervisor.Start] when the child could not be
// executed. Code is the exit code a shell would give: 127 or 126.
type ExecError struct {
	Path string
	Code int
	Err  error
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("exec %s: %v", e.Path, e.Err)
}

func (e *ExecError) Unwrap() error { return e.Err }

// execCode maps an exec failure to the shell's exit code.
func execCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ExitNotFound
	}
	return ExitNotExecutable
}

// Child is a process started by [Supervisor.Start].
type Child struct {
	pid  int
	done chan struct{}

	// Set by the reaper before done is closed.
	status unix.WaitStatus
	// termSent records that SIGTERM reached the group (guarded by Supervisor.mu).
	termSent bool
}

// Pid returns the child's process ID, which is also its process group ID.
func (c *Child) Pid() int { return c.pid }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitCode returns the child's exit code, or 128+signal when a signal killed
// it. It is only meaningful after Done is closed.
func (c *Child) ExitCode() int { return exitCode(c.status) }

func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}

// resolve finds the program the way a shell does, relative to Dir when the
// path has a slash but is not absolute.
func (cmd Command) resolve() (string, error) {
	path := cmd.Path
	if filepath.Base(path) == path {
		return exec.LookPath(path)
	}
	if !filepath.IsAbs(path) && cmd.Dir != "" {
		path = filepath.Join(cmd.Dir, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fs.ErrPermission
	}
	return path, nil
}

// prepareFDs makes sure fds 0..2 exist (a closed stdio would make the child's
// first open land on them) and marks every other inherited fd close-on-exec,
// so nothing the supervisor's parent leaked reaches the child.
func prepareFDs() error {
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			continue
		}
		nfd, err := unix.Open(os.DevNull, unix.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open %s for fd %d: %w", os.DevNull, fd, err)
		}
		if nfd != fd {
			if err := unix.Dup2(nfd, fd); err != nil {
				return fmt.Errorf("dup %s to fd %d: %w", os.DevNull, fd, err)
			}
			unix.Close(nfd)
		}
	}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Kernels before 5.11: walk /proc/self/fd.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open fds: %w", err)
	}
	for _, e := range entries {
		var fd int
		if _, err := fmt.Sscan(e.Name(), &fd); err != nil || fd < 3 {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}
