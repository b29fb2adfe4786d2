package confpatch

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
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

// Parse, Value, PortValue and MovePorts read conf as the FE reads fe.conf
// ([FESyntax]); in the forms be.conf files use (`key = value`, '#'
// comments) the BE reads the same. For a file whose path is known,
// SyntaxOf(path) gives the reader Doris uses for it.
func Parse(conf []byte) []Line { return FESyntax.Parse(conf) }

// Value returns the effective value of key (the last assignment), in
// [FESyntax].
func Value(conf []byte, key string) (string, bool) { return FESyntax.Value(conf, key) }

// PortValue returns the effective port of p in conf, in [FESyntax].
func PortValue(conf []byte, p Port) (int, error) { return FESyntax.PortValue(conf, p) }

// MovePorts moves the ports of conf by offset, in [FESyntax]; see
// [Syntax.MovePorts].
func MovePorts(conf []byte, ports []Port, offset int) ([]byte, []Moved, error) {
	return FESyntax.MovePorts(conf, ports, offset)
}

// PortValue returns the effective port of p in conf: its last assignment,
// or p.Default when conf does not set it (FE: or sets it empty, which
// ConfigBase skips).
func (s Syntax) PortValue(conf []byte, p Port) (int, error) {
	l, ok := s.last(conf, p.Key)
	if !ok || (s == FESyntax && l.raw == "" && !l.malformed) {
		return p.Default, nil
	}
	if l.malformed {
		return 0, fmt.Errorf("%s: a malformed \\uXXXX escape (the FE cannot load this conf)", p.Key)
	}
	n, err := strconv.Atoi(l.Value)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s = %q is not a port number", p.Key, l.Value)
	}
	return n, nil
}

// MovePorts returns conf with every assignment of each port key set to its
// effective port plus offset, and a line appended for keys conf does not
// set. Only the bytes of those values change (a value continued over lines
// becomes one line). It fails, changing nothing, when a value is not a port
// or a moved port would exceed 65535.
func (s Syntax) MovePorts(conf []byte, ports []Port, offset int) ([]byte, []Moved, error) {
	p, err := s.movePorts(conf, ports, offset)
	return p.out, p.moved, err
}

// edit replaces conf[start:end] with val.
type edit struct {
	start, end int
	val        string
}

// patch is what MovePorts did: out is the conf with edits (ascending, in the
// conf's offsets) applied and, from out[appendAt:], the lines appended for
// keys the conf does not set (appendAt is len(out) when there are none).
type patch struct {
	out      []byte
	moved    []Moved
	edits    []edit
	appendAt int
}

func (s Syntax) movePorts(conf []byte, ports []Port, offset int) (patch, error) {
	var p patch
	var appendLines []string
	lines := s.Parse(conf)
	for _, port := range ports {
		from, err := s.PortValue(conf, port)
		if err != nil {
			return patch{}, err
		}
		to := from + offset
		if to < 1 || to > 65535 {
			return patch{}, fmt.Errorf("%s: %d moved by %d is %d, outside 1..65535; set a smaller DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", port.Key, from, offset, to)
		}
		p.moved = append(p.moved, Moved{Key: port.Key, From: from, To: to})
		found := false
		for _, l := range lines {
			if l.Key == port.Key {
				start, end, val := l.edit(strconv.Itoa(to))
				p.edits = append(p.edits, edit{start, end, val})
				found = true
			}
		}
		if !found {
			appendLines = append(appendLines, port.Key+" = "+strconv.Itoa(to))
		}
	}
	sort.Slice(p.edits, func(a, b int) bool { return p.edits[a].start < p.edits[b].start })
	p.out = make([]byte, 0, len(conf)+16*len(p.edits))
	last := 0
	for _, e := range p.edits {
		p.out = append(append(p.out, conf[last:e.start]...), e.val...)
		last = e.end
	}
	p.out = append(p.out, conf[last:]...)
	p.appendAt = len(p.out)
	if len(appendLines) > 0 {
		p.out = s.appendLines(p.out, append([]string{"# added by doris-entrypoint for debug mode; the original conf is restored on leaving"}, appendLines...)...)
	}
	return p, nil
}

// appendLines appends lines to conf, each its own line to Doris: after a
// final newline, and for the FE after an empty line when the last line
// would continue into them.
func (s Syntax) appendLines(conf []byte, lines ...string) []byte {
	out := conf
	if len(out) > 0 && out[len(out)-1] != '\n' && (s == BESyntax || out[len(out)-1] != '\r') {
		out = append(out, '\n')
	}
	if s == FESyntax {
		for continuesAtEnd(out) {
			out = append(out, '\n')
		}
	}
	for _, l := range lines {
		out = append(out, l...)
		out = append(out, '\n')
	}
	return out
}

// continuesAtEnd reports whether conf, ending with a line terminator, ends
// with a physical line whose odd number of trailing backslashes joins it to
// whatever is appended.
func continuesAtEnd(conf []byte) bool {
	b := bytes.TrimSuffix(conf, []byte("\n"))
	if len(b) == len(conf) {
		b = bytes.TrimSuffix(conf, []byte("\r"))
	} else {
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

// Marker returns the path of the marker file of conf.
func Marker(conf string) string { return conf + MarkerSuffix }

// HasMarker reports whether conf is in debug mode (or was, when a crash
// interrupted the restore).
func HasMarker(conf string) bool {
	_, err := os.Lstat(Marker(conf))
	return err == nil
}
