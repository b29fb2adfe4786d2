package confpatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
)

// Our atomic writes go through a temp file next to the target:
// .<name>.tmp-<pid>-<random> (writeAtomic) and .<name>.link-tmp-<pid>
// (symlinkAtomic), where pid is the writer's. Older binaries wrote
// .<name>.tmp-<random>; tempName matches those too, the random number read
// as a pid.
var tempName = regexp.MustCompile(`^\..+\.(?:tmp|link-tmp)-([0-9]+)(?:-[0-9]+)?$`)

// RemoveStaleTemp removes from dir the temp files of our atomic writes that
// a crash interrupted (a SIGKILL while a large conf was being written leaves
// a partial one behind) and returns their paths. It keeps a temp file whose
// writer is alive and not this process: PID 1 of a restarted container has
// the pid of the one before, so a temp file with our own pid is stale too.
// A temp file never replaces a conf (the rename is the last step), so
// removing one loses nothing. [RestoreConf] calls it first, at every start.
func RemoveStaleTemp(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stale temp files in %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		m := tempName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() || writerAlive(m[1]) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove stale temp file: %w", err))
			continue
		}
		removed = append(removed, p)
	}
	if len(removed) > 0 {
		if err := syncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// writerAlive reports whether pid names a live process other than this one.
func writerAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 || n == os.Getpid() {
		return false
	}
	err = syscall.Kill(n, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
