package confpatch

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// checkMeta fails unless path is a regular file with this mode, owner and
// extended attribute.
func checkMeta(t *testing.T, path string, mode os.FileMode, uid, gid int, xname, xval string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: %v owned by %d:%d, want %v owned by %d:%d", filepath.Base(path), fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
	if xname == "" {
		return // no xattrs to check
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, xname, buf)
	if err != nil || string(buf[:n]) != xval {
		t.Errorf("%s: xattr %s = %q (%v), want %q", filepath.Base(path), xname, buf[:max(n, 0)], err, xval)
	}
}

// A debug round trip, and the enable_fqdn_mode append at start, keep the
// conf's owner, group, mode and extended attributes (a Doris running as
// uid 1234 must still read its 0600 conf), and the marker, which holds the
// original's bytes, is no more readable than the conf.
func TestRewritesKeepOwnerAndXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the conf another owner")
	}
	const uid, gid, xname, xval = 1234, 2345, "user.doris.note", "kept"
	conf := filepath.Join(t.TempDir(), "fe.conf")
	orig := readTestdata(t, "fe.conf")
	writeFile(t, conf, orig, 0o600)
	if err := os.Chown(conf, uid, gid); err != nil {
		t.Fatal(err)
	}
	// A filesystem without user xattrs (tmpfs on older kernels, overlay on
	// some hosts) still has owners: only the xattr part is skipped.
	xattr := xname
	if err := unix.Setxattr(conf, xname, []byte(xval), 0); err != nil {
		t.Logf("no user xattrs here (%v): owner, group and mode are checked, xattrs not", err)
		xattr = ""
	}
	steps := []struct {
		name string
		do   func() error
		want []byte
	}{
		{"Enter", func() error { _, err := Enter(conf, FEPorts, 10000); return err }, nil},
		{"Restore", func() error { _, err := Restore(conf); return err }, orig},
		{"EnsureValue", func() error { _, _, err := EnsureValue(conf, "enable_fqdn_mode", "true"); return err }, nil},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want != nil && !bytes.Equal(mustRead(t, conf), s.want) {
			t.Fatalf("%s: bytes differ", s.name)
		}
		checkMeta(t, conf, 0o600, uid, gid, xattr, xval)
		if s.name == "Enter" {
			if fi, err := os.Stat(Marker(conf)); err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("marker of a 0600 conf: %v %v", fi.Mode(), err)
			}
		}
		if t.Failed() {
			t.Fatalf("after %s", s.name)
		}
	}
}

func TestMarkerKeepsOwnerAndXattrs(t *testing.T) {
	tests := []State{
		{Mode: 0o600, Original: []byte("a = b\n"), UID: 1234, GID: 0,
			Xattrs: []Xattr{{"user.with space", []byte{0, 1, 0xff}}, {"user.empty", nil}, {"security.selinux", []byte("system_u:object_r:etc_t:s0\x00")}}},
		{Mode: 0o644, Original: []byte("x"), UID: -1, GID: -1},
		{Symlink: "/etc/doris/fe.conf", UID: -1, GID: -1},
	}
	for _, want := range tests {
		got, err := decodeState(want.encode())
		if err != nil {
			t.Fatal(err)
		}
		if got.Mode != want.Mode || got.UID != want.UID || got.GID != want.GID || got.Symlink != want.Symlink ||
			!bytes.Equal(got.Original, want.Original) || len(got.Xattrs) != len(want.Xattrs) {
			t.Fatalf("decode(encode(%+v)) = %+v", want, got)
		}
		for i := range want.Xattrs {
			if got.Xattrs[i].Name != want.Xattrs[i].Name || !bytes.Equal(got.Xattrs[i].Value, want.Xattrs[i].Value) {
				t.Errorf("xattr %d = %+v, want %+v", i, got.Xattrs[i], want.Xattrs[i])
			}
		}
	}
	// A marker of an older binary records no owner.
	old := "doris-entrypoint debug marker v1\nmode: 0644\n--\nq = 1\n"
	if st, err := decodeState([]byte(old)); err != nil || st.UID != -1 || st.GID != -1 || string(st.Original) != "q = 1\n" {
		t.Fatalf("older marker: %+v %v", st, err)
	}
}
