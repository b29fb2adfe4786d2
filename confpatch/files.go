package confpatch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const markerMagic = "doris-entrypoint debug marker v1"

// State is what a marker file records about the conf before debug mode.
type State struct {
	// Symlink is the link target when the conf was a symbolic link (into a
	// read-only ConfigMap mount, typically); empty for a regular file.
	Symlink string
	// Mode and Original are the permission bits and bytes of a regular file.
	Mode     fs.FileMode
	Original []byte
	// UID and GID own the regular file (-1: not recorded, a marker of an
	// older binary); Xattrs are its extended attributes. RestoreConf puts them
	// back with the bytes.
	UID, GID int
	Xattrs   []Xattr
	// Moved lists the ports changed, for status displays.
	Moved []Moved
	// Offset is the offset Enter moved them by (the one debug mode chose,
	// not necessarily DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET); a marker of an
	// older binary has none (0), and the offset is then that of Moved.
	Offset int
	// Patched is the SHA-256 (hex) of the conf Enter wrote, to tell it from
	// an edit (empty in a marker of an older binary).
	Patched string
	// What a restore under way decided for an edit (step 4 of
	// [RestoreConf]): Merged is the SHA-256 of the merged conf it writes;
	// Copy where it saves the edited conf, and Why.
	Merged, Copy, Why string
}

func (st State) encode() []byte {
	var b bytes.Buffer
	b.WriteString(markerMagic + "\n")
	if st.Symlink != "" {
		fmt.Fprintf(&b, "symlink: %s\n", strconv.Quote(st.Symlink))
	} else {
		fmt.Fprintf(&b, "mode: %#o\n", uint32(st.Mode.Perm()))
		if st.UID >= 0 || st.GID >= 0 {
			fmt.Fprintf(&b, "owner: %d %d\n", st.UID, st.GID)
		}
		for _, x := range st.Xattrs {
			fmt.Fprintf(&b, "xattr: %s %x\n", strconv.Quote(x.Name), x.Value)
		}
	}
	for _, m := range st.Moved {
		fmt.Fprintf(&b, "moved: %s %d %d\n", m.Key, m.From, m.To)
	}
	if st.Offset != 0 {
		fmt.Fprintf(&b, "offset: %d\n", st.Offset)
	}
	for _, f := range []struct{ name, val string }{{"patched", st.Patched}, {"merged", st.Merged}, {"copy", st.Copy}, {"why", st.Why}} {
		if f.val != "" {
			fmt.Fprintf(&b, "%s: %s\n", f.name, strconv.Quote(f.val))
		}
	}
	b.WriteString("--\n")
	if st.Symlink == "" {
		b.Write(st.Original)
	}
	return b.Bytes()
}

func decodeState(data []byte) (State, error) {
	st := State{UID: -1, GID: -1}
	r := bufio.NewReader(bytes.NewReader(data))
	magic, err := r.ReadString('\n')
	if err != nil || strings.TrimSuffix(magic, "\n") != markerMagic {
		return st, errors.New("not a doris-entrypoint marker")
	}
	n := len(magic)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return st, errors.New("marker header not terminated")
		}
		n += len(line)
		line = strings.TrimSuffix(line, "\n")
		if line == "--" {
			break
		}
		name, val, ok := strings.Cut(line, ": ")
		if !ok {
			return st, fmt.Errorf("bad marker line %q", line)
		}
		switch name {
		case "symlink":
			if st.Symlink, err = strconv.Unquote(val); err != nil || st.Symlink == "" {
				return st, fmt.Errorf("bad marker symlink %q", val)
			}
		case "mode":
			m, err := strconv.ParseUint(val, 0, 32)
			if err != nil {
				return st, fmt.Errorf("bad marker mode %q", val)
			}
			st.Mode = fs.FileMode(m).Perm()
		case "owner":
			if _, err := fmt.Sscanf(val, "%d %d", &st.UID, &st.GID); err != nil {
				return st, fmt.Errorf("bad marker owner %q", val)
			}
		case "xattr":
			var x Xattr
			q, hexval := val, "" // the hex has no blank; the quoted name may
			if i := strings.LastIndexByte(val, ' '); i >= 0 {
				q, hexval = val[:i], val[i+1:]
			}
			var err error
			if x.Name, err = strconv.Unquote(q); err != nil || x.Name == "" {
				return st, fmt.Errorf("bad marker xattr %q", val)
			}
			if _, err := fmt.Sscanf(hexval, "%x", &x.Value); err != nil && hexval != "" {
				return st, fmt.Errorf("bad marker xattr %q", val)
			}
			st.Xattrs = append(st.Xattrs, x)
		case "moved":
			var m Moved
			if _, err := fmt.Sscanf(val, "%s %d %d", &m.Key, &m.From, &m.To); err != nil {
				return st, fmt.Errorf("bad marker moved %q", val)
			}
			st.Moved = append(st.Moved, m)
		case "offset":
			if st.Offset, err = strconv.Atoi(val); err != nil || st.Offset == 0 {
				return st, fmt.Errorf("bad marker offset %q", val)
			}
		case "patched", "merged", "copy", "why":
			v, err := strconv.Unquote(val)
			if err != nil {
				return st, fmt.Errorf("bad marker %s %q", name, val)
			}
			*map[string]*string{"patched": &st.Patched, "merged": &st.Merged, "copy": &st.Copy, "why": &st.Why}[name] = v
		}
	}
	if st.Symlink == "" {
		st.Original = data[n:]
	}
	if st.Offset == 0 && len(st.Moved) > 0 { // an older marker
		st.Offset = st.Moved[0].To - st.Moved[0].From
	}
	return st, nil
}

// ReadState returns the state recorded by the marker of conf; the error
// wraps fs.ErrNotExist when conf is not patched.
func ReadState(conf string) (State, error) {
	data, err := os.ReadFile(Marker(conf))
	if err != nil {
		return State{}, err
	}
	st, err := decodeState(data)
	if err != nil {
		return st, fmt.Errorf("marker %s: %w", Marker(conf), err)
	}
	return st, nil
}

// original reads what conf is before debug mode: from its marker when one
// exists (a previous Enter, possibly interrupted), else from conf itself.
func original(conf string) (State, []byte, error) {
	st, err := ReadState(conf)
	switch {
	case err == nil:
		if st.Symlink == "" {
			return st, st.Original, nil
		}
		data, err := os.ReadFile(resolveLink(conf, st.Symlink))
		if err != nil {
			return st, nil, fmt.Errorf("read %s (target of %s before debug mode): %w", st.Symlink, conf, err)
		}
		return st, data, nil
	case !errors.Is(err, fs.ErrNotExist):
		return st, nil, err
	}
	fi, err := os.Lstat(conf)
	if err != nil {
		return st, nil, err
	}
	st = State{UID: -1, GID: -1}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if st.Symlink, err = os.Readlink(conf); err != nil {
			return st, nil, err
		}
	} else {
		m, err := metaOf(conf)
		if err != nil {
			return st, nil, err
		}
		st.Mode, st.UID, st.GID, st.Xattrs = m.mode, m.uid, m.gid, m.xattrs
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		return st, nil, err
	}
	if st.Symlink == "" {
		st.Original = data
	}
	return st, data, nil
}

// resolveLink interprets a link target relative to the link's directory.
func resolveLink(link, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	return filepath.Join(filepath.Dir(link), target)
}

// Enter moves ports in conf by offset for debug mode and returns what it
// moved; on error the conf is untouched. [RestoreConf] undoes it. The steps
// (numbered in the code):
//
//  1. Read the original: from the marker when one exists (an earlier Enter,
//     possibly interrupted), else from conf itself: its bytes, permission
//     bits, owner and extended attributes, or its target when conf is a
//     symlink (into a read-only ConfigMap mount). Entering again therefore
//     patches the original, not the current file, and ports never move
//     twice.
//  2. Compute the patched bytes from the original ([Syntax.MovePorts], in
//     the syntax Doris reads conf with: [SyntaxOf]). A value that is not a
//     port, or a port moved past 65535, fails here, before any write.
//  3. When conf is already a regular file with the patched bytes, stop.
//     With a marker, conf must be the original or what an earlier Enter
//     wrote: anything else is someone's edit, which patching the original
//     would throw away, so Enter fails (RestoreConf first keeps the edit).
//  4. Write the marker atomically, unless it already says so: the original
//     (bytes, mode, owner, extended attributes, or the link target), the
//     ports moved, the offset (so that nothing after depends on the
//     variable that gave it) and the SHA-256 of the patched bytes, readable by no more
//     than the conf is. The marker exists before the conf changes, so a
//     crash from here on is recoverable.
//  5. Replace conf with the patched bytes atomically (temp file in the same
//     directory, given the original's owner, extended attributes and mode,
//     fsync, rename, fsync of the directory); a symlink becomes a writable
//     0644 copy. A hard link to the conf keeps the original (a rename makes
//     a new file). A crash before the rename leaves the original, after it
//     the patched conf; at most a temp file (.<conf>.tmp-<pid>-*) stays
//     behind: it never replaces the conf, and the next restore removes it
//     (its step 1).
//  6. When (5) fails (a conf bind-mounted on its own, a ConfigMap subPath,
//     cannot be renamed over: EBUSY), the conf is the original: the marker
//     written in (4) is removed again, so no later restore reports a patch
//     that never happened. A marker from an earlier call stays.
//
// Crash recovery: the marker is written before the conf changes (4) and
// removed only after the original is back (RestoreConf (6)), and every
// write is all or nothing. So after a crash anywhere the conf is either the
// original or the patched file, and whenever it may be patched a marker
// says how to get back. The supervisor calls RestoreConf at start, before
// anything reads the conf (package modes, step (1) of its protocol).
func Enter(conf string, ports []Port, offset int) ([]Moved, error) {
	// (1)
	st, data, err := original(conf)
	if err != nil {
		return nil, fmt.Errorf("debug conf %s: %w", conf, err)
	}
	// (2)
	patched, moved, err := SyntaxOf(conf).MovePorts(data, ports, offset)
	if err != nil {
		return nil, fmt.Errorf("debug conf %s: %w", conf, err)
	}
	// (3)
	hadMarker := HasMarker(conf)
	cur, err := currentConf(conf)
	if err != nil {
		return nil, fmt.Errorf("debug conf %s: %w", conf, err)
	}
	if cur.regular && bytes.Equal(cur.data, patched) {
		return moved, nil
	}
	if hadMarker && !st.isOriginal(cur) && !(cur.regular && st.Patched != "" && sha256Hex(cur.data) == st.Patched) {
		return nil, fmt.Errorf("debug conf %s was edited while patched: restore it first, which keeps the edit", conf)
	}
	// (4)
	wroteMarker := false
	if sum := sha256Hex(patched); !hadMarker || st.Patched != sum || !slices.Equal(st.Moved, moved) || st.Offset != offset || st.Merged+st.Copy+st.Why != "" {
		st.Moved, st.Offset, st.Patched, st.Merged, st.Copy, st.Why = moved, offset, sum, "", "", ""
		if err := writeAtomic(Marker(conf), st.encode(), newMeta(markerMode(st))); err != nil {
			return nil, fmt.Errorf("debug conf %s: save the original: %w", conf, err)
		}
		wroteMarker = !hadMarker
	}
	// (5)
	if err := writeAtomic(conf, patched, st.meta()); err != nil {
		// (6)
		if wroteMarker {
			if rerr := removeSynced(Marker(conf)); rerr != nil {
				return nil, fmt.Errorf("debug conf %s: %w (and removing the marker again: %v)", conf, err, rerr)
			}
		}
		return nil, fmt.Errorf("debug conf %s: %w", conf, err)
	}
	return moved, nil
}

// removeSynced removes path and fsyncs its directory.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// sha256Hex is the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// file is what is at a conf's path now.
type file struct {
	exists, regular bool
	data            []byte // regular
	link            string // a symlink's target
}

func currentConf(conf string) (file, error) {
	fi, err := os.Lstat(conf)
	if errors.Is(err, fs.ErrNotExist) {
		return file{}, nil
	}
	if err != nil {
		return file{}, err
	}
	f := file{exists: true}
	switch {
	case fi.Mode().IsRegular():
		f.regular = true
		f.data, err = os.ReadFile(conf)
	case fi.Mode()&fs.ModeSymlink != 0:
		f.link, err = os.Readlink(conf)
	default:
		err = fmt.Errorf("%s is a %v, not a file", conf, fi.Mode().Type())
	}
	return f, err
}

// isOriginal reports whether f is the conf before debug mode.
func (st State) isOriginal(f file) bool {
	if st.Symlink != "" {
		return f.exists && !f.regular && f.link == st.Symlink
	}
	return f.regular && bytes.Equal(f.data, st.Original)
}

// meta is what a rewrite of the conf keeps: the original's; a symlink's
// writable copy is 0644, owned by the writer.
func (st State) meta() meta {
	if st.Symlink != "" {
		return newMeta(0o644)
	}
	return meta{mode: st.Mode, uid: st.UID, gid: st.GID, xattrs: st.Xattrs}
}

// markerMode is the marker's mode: it holds the original's bytes, so it is
// readable by no one the conf is not (and written by the supervisor alone).
func markerMode(st State) fs.FileMode {
	if st.Symlink != "" {
		return 0o644
	}
	return st.Mode.Perm()&0o644 | 0o600
}

// writeAtomic replaces path with data: temp file in the same directory,
// given m (owner, extended attributes, mode), fsync, rename, fsync of the
// directory. On error path is untouched.
func writeAtomic(path string, data []byte, m meta) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-*") // the pattern RemoveStaleTemp knows
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = m.apply(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// symlinkAtomic makes path a symlink to target, replacing what is there.
func symlinkAtomic(target, path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".link-tmp-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
