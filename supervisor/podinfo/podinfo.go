// Package podinfo reads the pod's annotations from the downward-API volume
// and decides the run mode from them, at start and while running.
//
// kubelet writes the file "annotations" as key="value" lines: keys sorted,
// values quoted with Go's %q, no trailing newline (fieldpath.FormatMap). It
// replaces the file by writing a new timestamped directory and renaming a
// "..data" symlink over the old one, so a watch on the file itself dies at the
// first update: the Watcher watches the directory, debounces, re-reads through
// the symlink, compares the bytes, and also re-reads on a slow timer (every
// second while the directory cannot be watched).
//
// Values are only ever unquoted with strconv.Unquote: nothing is executed or
// expanded (TiDB's start script sources the file; an annotation value of
// $(touch /pwned) runs there).
package podinfo

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Annotation keys of the run mode: the operator's two (doris-operator
// api/doris/v1/types.go) and apache.com.doris/runmode, which operator
// 25.6.0–25.7.0 used and the Doris website still tells users to set.
const (
	KeyRunmode          = "selectdb.com.doris/runmode"
	KeyRunmodeApache    = "apache.org.doris/runmode"
	KeyRunmodeApacheCom = "apache.com.doris/runmode"
)

// RunmodeKeys are the run-mode keys in the order ModeOf looks at them.
var RunmodeKeys = []string{KeyRunmode, KeyRunmodeApache, KeyRunmodeApacheCom}

// Mode is the run mode the annotations ask for.
type Mode int

const (
	// Normal: bootstrap and run the component.
	Normal Mode = iota
	// Debug: stop the component, move its ports, hold the probe port, idle.
	Debug
)

func (m Mode) String() string {
	if m == Debug {
		return "debug"
	}
	return "normal"
}

// LineError is a malformed line of the annotations file.
type LineError struct {
	Line int
	Text string // the line, shortened
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("annotations line %d %q: %v", e.Line, e.Text, e.Err)
}

// Parse parses the annotations file. A malformed line is reported and
// skipped; the others still count. When a key repeats, the last line wins.
func Parse(data []byte) (map[string]string, []error) {
	ann := make(map[string]string)
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, quoted, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			errs = append(errs, &LineError{Line: i + 1, Text: shorten(line), Err: fmt.Errorf("want key=\"value\"")})
			continue
		}
		val, err := strconv.Unquote(quoted)
		if err != nil || !strings.HasPrefix(quoted, `"`) {
			errs = append(errs, &LineError{Line: i + 1, Text: shorten(line), Err: fmt.Errorf("value is not a Go-quoted string")})
			continue
		}
		ann[key] = val
	}
	return ann, errs
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// ModeOf returns the run mode the annotations ask for. Any of RunmodeKeys,
// in any case (the scripts read the file with viper, which folds keys),
// with the value "debug" (any case, surrounding spaces ignored) means Debug;
// key is the annotation that asked for it, as written. unexpected is a
// runmode value that is neither empty nor "debug", which callers log once;
// it means Normal.
func ModeOf(ann map[string]string) (mode Mode, key, unexpected string) {
	for _, k := range runmodeKeysOf(ann) {
		v := strings.TrimSpace(ann[k])
		if strings.EqualFold(v, "debug") {
			return Debug, k, ""
		}
		if v != "" && unexpected == "" {
			unexpected = k + "=" + strconv.Quote(ann[k])
		}
	}
	return Normal, "", unexpected
}

// runmodeKeysOf returns the keys of ann that are run-mode keys, in the order
// of RunmodeKeys (spellings of one key sorted), so the result never depends
// on map order.
func runmodeKeysOf(ann map[string]string) []string {
	rank := func(k string) int {
		for i, rk := range RunmodeKeys {
			if strings.EqualFold(k, rk) {
				return i
			}
		}
		return -1
	}
	var keys []string
	for k := range ann {
		if rank(k) >= 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// Format renders annotations exactly as kubelet writes the file (sorted
// keys, %q values, no trailing newline). Tests and tools use it.
func Format(ann map[string]string) []byte {
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, ann[k])
	}
	return []byte(b.String())
}
