package confpatch

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// inMountNamespace re-runs the calling test in a private mount namespace
// (unshare --mount), where it may mount tmpfs freely; it returns true in
// the re-run and false (after checking the re-run passed) in the caller.
func inMountNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv("CONFPATCH_MOUNTNS") == t.Name() {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CONFPATCH_MOUNTNS="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a mount namespace: %v\n%s", err, out)
	}
	return false
}

func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) }) // before TempDir's removal
	return dir
}

// A full disk fails Enter cleanly: conf untouched, no marker, no temp file.
func TestEnterOnFullDisk(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	dir := mountTmpfs(t, "64k")
	conf := filepath.Join(dir, "fe.conf")
	orig := readTestdata(t, "fe.conf")
	writeFile(t, conf, orig, 0o644)
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	if _, err := Enter(conf, FEPorts, 10000); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Enter on a full disk: %v, want ENOSPC", err)
	}
	if !bytes.Equal(mustRead(t, conf), orig) || HasMarker(conf) {
		t.Fatal("conf changed or marker left on a full disk")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// A read-only conf directory fails Enter cleanly.
func TestEnterOnReadOnlyDir(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	dir := mountTmpfs(t, "1m")
	conf := filepath.Join(dir, "be.conf")
	orig := readTestdata(t, "be.conf")
	writeFile(t, conf, orig, 0o644)
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	if _, err := Enter(conf, BEPorts, 10000); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Enter in a read-only dir: %v, want EROFS", err)
	}
	if !bytes.Equal(mustRead(t, conf), orig) || HasMarker(conf) {
		t.Fatal("conf changed or marker left")
	}
}

// A conf bind-mounted on its own (a ConfigMap subPath) cannot be renamed
// over (EBUSY): Enter fails with the conf untouched and leaves no marker, so
// neither the leave nor the next start finds a patch that never happened.
func TestEnterOnBindMountedConf(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "fe.conf")
	orig := readTestdata(t, "fe.conf")
	src := filepath.Join(t.TempDir(), "fe.conf")
	writeFile(t, src, orig, 0o644)
	writeFile(t, conf, nil, 0o644)
	if err := unix.Mount(src, conf, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(conf, unix.MNT_DETACH) })
	if _, err := Enter(conf, FEPorts, 10000); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("Enter on a bind-mounted conf: %v, want EBUSY", err)
	}
	if !bytes.Equal(mustRead(t, conf), orig) {
		t.Fatal("conf changed")
	}
	if HasMarker(conf) {
		t.Fatal("marker left for a patch that never happened")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
	if ok, err := Restore(conf); ok || err != nil {
		t.Fatalf("Restore = %v, %v; want nothing to do", ok, err)
	}
}
