package confpatch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareWorkloadGroup(t *testing.T) {
	root := t.TempDir()
	fsFile := filepath.Join(root, "filesystems")
	os.WriteFile(fsFile, []byte("nodev\tcgroup\nnodev\tcgroup2\n"), 0o644)
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu io\n"), 0o444)
	os.WriteFile(filepath.Join(root, "cgroup.procs"), nil, 0o644)
	dir, err := PrepareWorkloadGroup(root, fsFile)
	if err != nil || dir != filepath.Join(root, "cpu/doris") {
		t.Fatalf("%q %v", dir, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o770 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(root, "cgroup.procs")); fi.Mode().Perm() != 0o666 {
		t.Errorf("cgroup.procs mode %v", fi.Mode().Perm())
	}
	os.WriteFile(fsFile, []byte("nodev\tproc\n"), 0o644)
	if _, err := PrepareWorkloadGroup(root, fsFile); err == nil || !strings.Contains(err.Error(), "no cgroup") {
		t.Fatalf("without cgroup: %v", err)
	}
}
