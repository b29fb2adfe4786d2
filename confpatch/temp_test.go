package confpatch

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Restore, which the supervisor calls at start, removes the temp files an
// interrupted write left in the conf directory (a SIGKILL while a large conf
// is written), and only those: a temp file whose writer is alive, and files
// that are not ours, stay.
func TestRestoreRemovesStaleTemp(t *testing.T) {
	const deadPID = 4194305 // above the largest pid_max: never alive
	self, parent := strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid())
	tests := []struct {
		name    string
		removed bool
	}{
		{".fe.conf.tmp-2875521044", true}, // an older binary's name: a random suffix, no pid
		{".fe.conf.tmp-" + strconv.Itoa(deadPID) + "-17", true},
		{".fe.conf.doris-entrypoint-debug.tmp-" + strconv.Itoa(deadPID) + "-3", true}, // the marker's
		{".fe.conf.link-tmp-" + strconv.Itoa(deadPID), true},
		{".log4j2.xml.tmp-" + strconv.Itoa(deadPID) + "-5", true}, // a ConfigMap file copied at start
		{".fe.conf.tmp-" + self + "-9", true},                     // a previous PID 1 of this container had this pid too
		{".fe.conf.tmp-" + parent + "-1", false},                  // its writer is alive
		{".fe.conf.swp", false},
		{".fe.conf.tmp-abc", false},
		{"fe.conf.tmp-12", false},
		{"fe.conf.bak", false},
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "fe.conf")
	writeFile(t, conf, readTestdata(t, "fe.conf"), 0o644)
	for _, tt := range tests {
		writeFile(t, filepath.Join(dir, tt.name), []byte("partial"), 0o600)
	}
	if ok, err := Restore(conf); ok || err != nil {
		t.Fatalf("Restore = %v, %v; want nothing to restore", ok, err)
	}
	for _, tt := range tests {
		_, err := os.Lstat(filepath.Join(dir, tt.name))
		if gone := os.IsNotExist(err); gone != tt.removed {
			t.Errorf("%s: removed = %v, want %v", tt.name, gone, tt.removed)
		}
	}
}
