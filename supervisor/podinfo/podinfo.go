// Package podinfo reads the pod's annotations from the downward-API volume
// and decides the run mode from them, at start and while running.
//
// kubelet writes the file "annotations" as key="value" lines: keys sorted,
// values quoted with Go's %q, no trailing newline (fieldpath.FormatMap). It
// replaces the file by writing a new timestamped directory and renaming a
// "..data" symlink over the old one, so a watch on the file itself dies at the
// first update: the Watcher watches the directory, debounces, re-reads through
// the symlink, compares the bytes, and also re-reads on a slow timer.
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

// Annotation keys of the run mode (doris-operator api/doris/v1/types.go).
const (
	KeyRunmode       = "selectdb.com.doris/runmode"
	KeyRunmodeApache = "apache.org.doris/runmode"
)

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

// ModeOf returns the run mode the annotations ask for. Either runmode key
// with the value "debug" (any case, surrounding spaces ignored) means Debug.
// unexpected is a runmode value that is neither empty nor "debug", which
// callers log once; it means Normal.
func ModeOf(ann map[string]string) (mode Mode, unexpected string) {
	for _, k := range []string{KeyRunmode, KeyRunmodeApache} {
		v, ok := ann[k]
		if !ok {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(v), "debug") {
			return Debug, ""
		}
		if strings.TrimSpace(v) != "" && unexpected == "" {
			unexpected = k + "=" + strconv.Quote(v)
		}
	}
	return Normal, unexpected
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
