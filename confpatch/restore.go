package confpatch

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Restored says what [RestoreConf] did.
type Restored struct {
	Conf string
	// Marker: conf had a marker, so it was patched (or being patched) and
	// has been restored; the rest is empty without one.
	Marker bool
	Moved  []Moved // the ports the patch had moved
	// Edited: someone changed conf in debug mode (or deleted it). Their
	// change is never dropped silently: Kept, it stays in conf and only
	// the lines debug mode moved were put back; otherwise conf is the
	// original again and Copy, when not empty, is where their version is
	// kept. Why says why it was not merged.
	Edited bool
	Kept   bool
	Copy   string
	Why    string
	// TempRemoved are the stale temp files removed from the conf's
	// directory (step 1), marker or not.
	TempRemoved []string
}

// String is the line for the log, the status and an Event: empty without a
// marker.
func (r Restored) String() string {
	keys := make([]string, len(r.Moved))
	for i, m := range r.Moved {
		keys[i] = m.Key
	}
	switch {
	case !r.Marker:
		return ""
	case !r.Edited:
		return "conf restored: " + r.Conf
	case r.Kept:
		return fmt.Sprintf("%s was edited in debug mode: the edit is kept, only the lines debug mode moved (%s) were put back", r.Conf, strings.Join(keys, ", "))
	case r.Copy != "":
		return fmt.Sprintf("%s was edited in debug mode and %s: the original is back, the edited file is kept as %s", r.Conf, r.Why, r.Copy)
	}
	return fmt.Sprintf("%s was %s in debug mode: the original is back", r.Conf, r.Why)
}

// Restore is [RestoreConf] for callers that need to know only whether there
// was a marker.
func Restore(conf string) (bool, error) {
	r, err := RestoreConf(conf)
	return r.Marker, err
}

// RestoreConf undoes [Enter]: it puts back the conf recorded in its marker
// (or the original symlink), keeping an edit someone made in debug mode,
// then removes the marker. The steps (numbered in the code):
//
//  1. Remove the stale temp files of interrupted writes from the conf's
//     directory ([RemoveStaleTemp]); the supervisor calls RestoreConf at
//     start, before anything else writes there. A temp file that cannot be
//     removed does not fail the restore.
//  2. Without a marker there is nothing more to do. A marker that cannot be
//     decoded is an error, and the conf is left as it is.
//  3. Tell what conf is now. What Enter wrote (the marker's SHA-256), or the
//     original already: the original is to be written. What a restore
//     under way decided (the marker's merged hash, or its copy with conf
//     already the original): go to (6). Anything else is an edit
//     (Restored.Edited). A regular original is merged with it: the edited
//     conf with the lines debug mode moved put back as they were, so the
//     edit stays (Restored.Kept). When the edit changed or removed one of
//     those lines, sets a moved port again, or is too large to merge, or
//     when the original was a symlink into the read-only ConfigMap, the
//     edited conf is saved as <conf>.debug-edit-<hash> (Restored.Copy) and
//     the original is to be written. A deleted conf gets the original back.
//  4. Record that decision in the marker (atomically) before acting on it,
//     so that after a crash (3) recognises the merged conf, or the copy,
//     as its own and not as a new edit: a restore is idempotent. Then
//     write the copy atomically.
//  5. Write conf atomically: the original's bytes, or the merged ones, with
//     the original's mode, owner and extended attributes (a temp file
//     renamed over conf), or the symlink (a new link renamed over conf).
//  6. Remove the marker, then fsync the directory. A crash before the
//     removal leaves the marker, and the next restore ends here again.
func RestoreConf(conf string) (Restored, error) {
	// (1)
	removed, _ := RemoveStaleTemp(filepath.Dir(conf))
	// (2)
	st, err := ReadState(conf)
	if errors.Is(err, fs.ErrNotExist) {
		return Restored{Conf: conf, TempRemoved: removed}, nil
	}
	if err != nil {
		return Restored{Conf: conf, TempRemoved: removed}, err
	}
	r, err := restoreConf(conf, st)
	r.TempRemoved = removed
	if err != nil {
		return r, err
	}
	// (6)
	if err := removeSynced(Marker(conf)); err != nil {
		return r, fmt.Errorf("restore %s: remove marker: %w", conf, err)
	}
	return r, nil
}

// restoreConf does steps (3) to (5) of RestoreConf.
func restoreConf(conf string, st State) (Restored, error) {
	r := Restored{Conf: conf, Marker: true, Moved: st.Moved}
	// (3)
	cur, err := currentConf(conf)
	if err != nil {
		return r, fmt.Errorf("restore %s: %w", conf, err)
	}
	switch {
	case st.Merged != "" && cur.regular && sha256Hex(cur.data) == st.Merged:
		r.Edited, r.Kept = true, true
		return r, nil
	case st.Copy != "" && st.isOriginal(cur):
		r.Edited, r.Copy, r.Why = true, st.Copy, st.Why
		return r, nil
	case st.isOriginal(cur):
	case cur.regular && st.Patched != "" && sha256Hex(cur.data) == st.Patched:
	case !cur.exists:
		r.Edited, r.Why = true, "deleted"
	case !cur.regular:
		r.Edited, r.Why = true, "replaced by a link to "+cur.link
	default:
		r.Edited = true
		merged, why := st.merge(conf, cur.data)
		if merged == nil && why == "" { // Enter's own bytes (a marker without their hash)
			r.Edited = false
			break
		}
		if merged != nil {
			r.Kept = true
			st.Merged = sha256Hex(merged)
			// (4)
			if err := writeAtomic(Marker(conf), st.encode(), newMeta(markerMode(st))); err != nil {
				return r, fmt.Errorf("restore %s: record the merge: %w", conf, err)
			}
			// (5)
			if err := writeAtomic(conf, merged, st.meta()); err != nil {
				return r, fmt.Errorf("restore %s: %w", conf, err)
			}
			return r, nil
		}
		r.Why = why
		r.Copy = conf + ".debug-edit-" + sha256Hex(cur.data)[:8]
		st.Copy, st.Why = r.Copy, r.Why
		// (4)
		if err := writeAtomic(Marker(conf), st.encode(), newMeta(markerMode(st))); err != nil {
			return r, fmt.Errorf("restore %s: record the copy: %w", conf, err)
		}
		m, err := metaOf(conf)
		if err == nil {
			err = writeAtomic(r.Copy, cur.data, m)
		}
		if err != nil {
			return r, fmt.Errorf("restore %s: keep the edited conf as %s: %w", conf, r.Copy, err)
		}
	}
	// (5)
	if st.Symlink != "" {
		err = symlinkAtomic(st.Symlink, conf)
	} else {
		err = writeAtomic(conf, st.Original, st.meta())
	}
	if err != nil {
		return r, fmt.Errorf("restore %s: %w", conf, err)
	}
	return r, nil
}

// merge returns the edited conf cur with the lines Enter moved put back as
// they were, or nil and why not. Nil without a reason: cur is what Enter
// wrote (a marker without its hash).
func (st State) merge(conf string, cur []byte) ([]byte, string) {
	if st.Symlink != "" {
		return nil, "it was a link into the ConfigMap, which is read-only"
	}
	// Enter's patch again, from the original, the ports it moved and the
	// offset the marker records (never the variable: it may have changed).
	ports := make([]Port, len(st.Moved))
	offset := st.Offset
	for i, m := range st.Moved {
		ports[i] = Port{Key: m.Key, Default: m.From}
		if m.To-m.From != offset {
			return nil, "the marker's moves differ in offset"
		}
	}
	syntax := SyntaxOf(conf)
	p, err := syntax.movePorts(st.Original, ports, offset)
	if err != nil || (st.Patched != "" && sha256Hex(p.out) != st.Patched) {
		return nil, "what debug mode wrote cannot be told from the edit"
	}
	if st.Patched == "" && string(p.out) == string(cur) {
		return nil, ""
	}
	return merge(syntax, st.Original, p, cur)
}
