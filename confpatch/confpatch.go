package confpatch

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// MarkerSuffix is appended to the conf's path to name its marker file.
const MarkerSuffix = ".doris-entrypoint-debug"

// Port is a port key and the value Doris uses when the conf does not set it.
type Port struct {
	Key     string
	Default int
}

// Moved is one port key before and after Enter.
type Moved struct {
	Key      string
	From, To int
}

// Line is one "key = value" assignment found in a conf file.
type Line struct {
	Key, Value string
	// Offsets of the value in the file, for an in-place change.
	valStart, valEnd int
}

// Parse finds the assignments of a Doris conf: "key = value" lines, blanks
// around '=' optional, '#' comment lines skipped. The value is the rest of
// the line without surrounding blanks. Later lines win, as in Doris.
func Parse(conf []byte) []Line {
	var out []Line
	for off := 0; off < len(conf); {
		end := bytes.IndexByte(conf[off:], '\n')
		if end < 0 {
			end = len(conf)
		} else {
			end += off
		}
		if l, ok := parseLine(conf, off, end); ok {
			out = append(out, l)
		}
		off = end + 1
	}
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func parseLine(conf []byte, start, end int) (Line, bool) {
	i := start
	for i < end && isBlank(conf[i]) {
		i++
	}
	if i == end || conf[i] == '#' {
		return Line{}, false
	}
	eq := bytes.IndexByte(conf[i:end], '=')
	if eq < 0 {
		return Line{}, false
	}
	eq += i
	k := eq
	for k > i && isBlank(conf[k-1]) {
		k--
	}
	key := string(conf[i:k])
	if key == "" || strings.ContainsAny(key, " \t") {
		return Line{}, false
	}
	vs := eq + 1
	for vs < end && isBlank(conf[vs]) {
		vs++
	}
	ve := end
	for ve > vs && isBlank(conf[ve-1]) {
		ve--
	}
	return Line{Key: key, Value: string(conf[vs:ve]), valStart: vs, valEnd: ve}, true
}

// Value returns the effective value of key (the last assignment).
func Value(conf []byte, key string) (string, bool) {
	v, ok := "", false
	for _, l := range Parse(conf) {
		if l.Key == key {
			v, ok = l.Value, true
		}
	}
	return v, ok
}

// PortValue returns the effective port of p in conf: its last assignment,
// or p.Default when unset.
func PortValue(conf []byte, p Port) (int, error) {
	v, ok := Value(conf, p.Key)
	if !ok {
		return p.Default, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s = %q is not a port number", p.Key, v)
	}
	return n, nil
}

// MovePorts returns conf with every assignment of each port key set to its
// effective port plus offset, and a line appended for keys conf does not
// set. It fails, changing nothing, when a value is not a port or a moved
// port would exceed 65535.
func MovePorts(conf []byte, ports []Port, offset int) ([]byte, []Moved, error) {
	type edit struct {
		start, end int
		val        string
	}
	var edits []edit
	var appendLines []string
	var moved []Moved
	lines := Parse(conf)
	for _, p := range ports {
		from, err := PortValue(conf, p)
		if err != nil {
			return nil, nil, err
		}
		to := from + offset
		if to < 1 || to > 65535 {
			return nil, nil, fmt.Errorf("%s: %d moved by %d is %d, outside 1..65535; set a smaller DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", p.Key, from, offset, to)
		}
		moved = append(moved, Moved{Key: p.Key, From: from, To: to})
		found := false
		for _, l := range lines {
			if l.Key == p.Key {
				edits = append(edits, edit{l.valStart, l.valEnd, strconv.Itoa(to)})
				found = true
			}
		}
		if !found {
			appendLines = append(appendLines, p.Key+" = "+strconv.Itoa(to))
		}
	}
	// Apply the edits back to front so the offsets of the others stay valid.
	sort.Slice(edits, func(a, b int) bool { return edits[a].start > edits[b].start })
	out := append([]byte(nil), conf...)
	for _, e := range edits {
		out = append(out[:e.start], append([]byte(e.val), out[e.end:]...)...)
	}
	if len(appendLines) > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "# added by doris-entrypoint for debug mode; the original conf is restored on leaving\n"...)
		for _, l := range appendLines {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out, moved, nil
}

// Marker returns the path of the marker file of conf.
func Marker(conf string) string { return conf + MarkerSuffix }

// HasMarker reports whether conf is in debug mode (or was, when a crash
// interrupted the restore).
func HasMarker(conf string) bool {
	_, err := os.Lstat(Marker(conf))
	return err == nil
}
