package confpatch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Xattr is one extended attribute of a conf (user.*, security.selinux, a
// POSIX ACL as system.posix_acl_access, ...).
type Xattr struct {
	Name  string
	Value []byte
}

// meta is what a rewrite keeps of the file it replaces besides its bytes:
// permission bits, owner and group, extended attributes. An atomic rename
// makes a new inode, so everything else about the old one is lost: other
// hard links to it keep the old bytes (the conf becomes a file of its own),
// and its inode number and timestamps are new.
type meta struct {
	mode     fs.FileMode
	uid, gid int // -1: the writer's
	xattrs   []Xattr
}

// newMeta is the meta of a file that replaces none: mode, the writer's owner.
func newMeta(mode fs.FileMode) meta { return meta{mode: mode, uid: -1, gid: -1} }

// metaOf reads the meta of the regular file at path.
func metaOf(path string) (meta, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return meta{}, err
	}
	m := newMeta(fi.Mode().Perm())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.uid, m.gid = int(st.Uid), int(st.Gid)
	}
	if m.xattrs, err = xattrsOf(path); err != nil {
		return meta{}, fmt.Errorf("extended attributes of %s: %w", path, err)
	}
	return m, nil
}

// xattrsOf lists the extended attributes of path (not following a
// symlink); a filesystem without them has none.
func xattrsOf(path string) ([]Xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil || size == 0 {
		return nil, err
	}
	names := make([]byte, size)
	if size, err = unix.Llistxattr(path, names); err != nil {
		return nil, err
	}
	var out []Xattr
	for _, name := range strings.Split(strings.TrimRight(string(names[:size]), "\x00"), "\x00") {
		n, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(path, name, val); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Xattr{Name: name, Value: val[:n]})
	}
	return out, nil
}

// apply gives the new file f the meta m: owner first (a chown may clear
// mode bits), then the attributes (an ACL sets group bits), then the mode.
// An attribute f already has with the same value (a label inherited from
// the directory) is left alone.
func (m meta) apply(f *os.File) error {
	if m.uid >= 0 || m.gid >= 0 {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || (m.uid >= 0 && int(st.Uid) != m.uid) || (m.gid >= 0 && int(st.Gid) != m.gid) {
			if err := f.Chown(m.uid, m.gid); err != nil {
				return fmt.Errorf("keep the owner %d:%d: %w", m.uid, m.gid, err)
			}
		}
	}
	for _, x := range m.xattrs {
		buf := make([]byte, len(x.Value)+1)
		if n, err := unix.Fgetxattr(int(f.Fd()), x.Name, buf); err == nil && bytes.Equal(buf[:n], x.Value) {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), x.Name, x.Value, 0); err != nil {
			return fmt.Errorf("keep the extended attribute %s: %w", x.Name, err)
		}
	}
	return f.Chmod(m.mode)
}
