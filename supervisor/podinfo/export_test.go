package podinfo

import (
	"errors"
	"testing"

	"github.com/fsnotify/fsnotify"
)

// NoInotify makes Watch run without a directory watch until the test ends,
// as when the node's inotify instances are used up.
func NoInotify(t *testing.T) {
	t.Helper()
	orig := newFSWatcher
	newFSWatcher = func() (*fsnotify.Watcher, error) {
		return nil, errors.New("inotify_init1: too many open files")
	}
	t.Cleanup(func() { newFSWatcher = orig })
}
