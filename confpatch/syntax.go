package confpatch

import (
	"bytes"
	"path/filepath"
	"strconv"
	"unicode/utf8"
)

// Syntax is how a Doris component reads its conf file. The FE and the BE
// read theirs differently, so a line may set a key for one and be garbage
// to the other (`query_port: 9031`).
type Syntax uint8

const (
	// FESyntax is java.util.Properties.load, which the FE's ConfigBase.initConf
	// uses for fe.conf (apache/doris
	// fe/fe-common/src/main/java/org/apache/doris/common/ConfigBase.java), as
	// the JDK 9+ LineReader has it:
	//   - a line ends at \n, \r or \r\n; blanks are ' ', '\t' and '\f';
	//   - a line whose first non-blank is '#' or '!' is a comment, blank lines
	//     are skipped;
	//   - a line ending in an odd number of backslashes goes on at the next
	//     line, whose leading blanks are dropped (a comment never goes on;
	//     a line continued from nothing but a backslash starts afresh);
	//   - the key runs to the first unescaped '=', ':' or blank; blanks, then
	//     at most one '=' or ':', then blanks separate it from the value, which
	//     runs to the end of the line: `k = v`, `k: v`, `k v`, `k` (empty);
	//   - in key and value \t \n \r \f and \uXXXX are escapes, and a backslash
	//     before any other character stands for that character;
	//   - a later line for a key wins.
	// ConfigBase then trims the value (String.trim: every char <= ' ') and
	// skips a key whose value is empty, so `query_port =` means the default.
	FESyntax Syntax = iota
	// BESyntax is the BE's config::Properties::load (apache/doris
	// be/src/common/configbase.cpp): lines end at \n; a line trimmed of
	// C isspace blanks that is empty or starts with '#' is skipped; the key is
	// what comes before the first '=', the value what comes after, both
	// trimmed; a line without '=' is its key with an empty value (which no
	// port accepts); no continuation, no escapes; a later line wins.
	BESyntax
)

func (s Syntax) String() string {
	if s == BESyntax {
		return "BE conf (configbase.cpp)"
	}
	return "FE conf (java.util.Properties)"
}

// SyntaxOf returns the syntax Doris reads the conf file at path with: the
// BE's for be.conf and be_custom.conf, the FE's (Java properties) for
// fe.conf, fe_custom.conf and the rest.
func SyntaxOf(path string) Syntax {
	switch filepath.Base(path) {
	case "be.conf", "be_custom.conf":
		return BESyntax
	}
	return FESyntax
}

// Line is one assignment found in a conf file.
type Line struct {
	// Key is the key as Doris reads it (FE: escapes decoded); Value the value
	// as Doris uses it: trimmed, and for the FE with escapes decoded.
	Key, Value string
	// raw is the FE's Properties value before ConfigBase trims it: when it
	// is empty, ConfigBase skips the key (its default applies).
	raw string
	// malformed: a bad \uXXXX escape, on which the FE fails to load the conf.
	malformed bool
	// The bytes of the file that hold Value, for an in-place change; when
	// Value is empty, where a value goes. noSep: the line is a key alone, and
	// a new value needs a separator before it.
	valStart, valEnd int
	noSep            bool
}

// edit returns the change of the file that gives l the value val.
func (l Line) edit(val string) (start, end int, repl string) {
	if l.noSep {
		val = " = " + val
	}
	return l.valStart, l.valEnd, val
}

// Parse returns the assignments of conf in file order.
func (s Syntax) Parse(conf []byte) []Line {
	if s == BESyntax {
		return parseBE(conf)
	}
	return parseProperties(conf)
}

// Value returns the effective value of key (the last assignment).
func (s Syntax) Value(conf []byte, key string) (string, bool) {
	l, ok := s.last(conf, key)
	return l.Value, ok
}

func (s Syntax) last(conf []byte, key string) (Line, bool) {
	var last Line
	ok := false
	for _, l := range s.Parse(conf) {
		if l.Key == key {
			last, ok = l, true
		}
	}
	return last, ok
}

// isSpace is C's isspace in the "C" locale, the BE's trim.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func parseBE(conf []byte) []Line {
	var out []Line
	for off := 0; off < len(conf); {
		end := bytes.IndexByte(conf[off:], '\n')
		next := off + end + 1
		if end < 0 {
			end, next = len(conf)-off, len(conf)
		}
		s, e := trimSpan(conf, off, off+end)
		off = next
		if s == e || conf[s] == '#' {
			continue
		}
		eq := bytes.IndexByte(conf[s:e], '=')
		if eq < 0 {
			out = append(out, Line{Key: string(conf[s:e]), valStart: e, valEnd: e, noSep: true})
			continue
		}
		ks, ke := trimSpan(conf, s, s+eq)
		vs, ve := trimSpan(conf, s+eq+1, e)
		out = append(out, Line{Key: string(conf[ks:ke]), Value: string(conf[vs:ve]), valStart: vs, valEnd: ve})
	}
	return out
}

// trimSpan narrows [s, e) of b to exclude isspace bytes at both ends.
func trimSpan(b []byte, s, e int) (int, int) {
	for s < e && isSpace(b[s]) {
		s++
	}
	for e > s && isSpace(b[e-1]) {
		e--
	}
	return s, e
}

// isPropBlank is a blank to java.util.Properties.
func isPropBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// parseProperties reads conf as java.util.Properties.load does (see
// FESyntax): physical lines are joined into logical ones, each byte of
// which remembers where in conf it is, then split into key and value.
func parseProperties(conf []byte) []Line {
	var out []Line
	var text []byte              // the logical line so far
	var at []int                 // at[i]: offset in conf of text[i]
	continued, joint := false, 0 // joint: where the last joining backslash is
	crlf := false                // the last line ended with \r\n
	for off := 0; off < len(conf); {
		end, next := propLineEnd(conf, off)
		crlf = next-end == 2
		i := off
		for i < end && isPropBlank(conf[i]) {
			i++
		}
		if !continued || len(text) == 0 { // a new logical line
			text, at = text[:0], at[:0]
			if i == end || conf[i] == '#' || conf[i] == '!' {
				continued = false
				off = next
				continue
			}
		}
		for ; i < end; i++ {
			text, at = append(text, conf[i]), append(at, i)
		}
		n := 0
		for n < len(text) && text[len(text)-1-n] == '\\' {
			n++
		}
		continued = n%2 == 1
		if continued { // the backslash joins the next line
			joint = at[len(at)-1]
			text, at = text[:len(text)-1], at[:len(at)-1]
		} else {
			out = append(out, property(text, at, 0))
		}
		off = next
	}
	// The end of the file ends a continued line. The JDK ends an empty one
	// (a lone backslash) too, unless \r\n followed it: it sees the end of the
	// file only after taking the \n as part of the line break.
	if continued && (len(text) > 0 || !crlf) {
		out = append(out, property(text, at, joint))
	}
	return out
}

// propLineEnd returns the end of the physical line at off and where the
// next begins: a line ends at \n, \r or \r\n.
func propLineEnd(conf []byte, off int) (end, next int) {
	for end = off; end < len(conf); end++ {
		switch conf[end] {
		case '\n':
			return end, end + 1
		case '\r':
			if end+1 < len(conf) && conf[end+1] == '\n' {
				return end, end + 2
			}
			return end, end + 1
		}
	}
	return end, end
}

// property splits a logical line into key and value; joint is where in
// conf a value goes when text is empty (the line was a lone backslash).
func property(text []byte, at []int, joint int) Line {
	keyEnd := len(text)
	for i := 0; i < len(text); i++ {
		if text[i] == '\\' {
			i++ // the escaped byte belongs to the key
			continue
		}
		if c := text[i]; c == '=' || c == ':' || isPropBlank(c) {
			keyEnd = i
			break
		}
	}
	vs, sep := keyEnd, false
	for ; vs < len(text); vs++ {
		c := text[vs]
		if !sep && (c == '=' || c == ':') {
			sep = true
			continue
		}
		if !isPropBlank(c) {
			break
		}
	}
	key, _, badKey := unescape(text[:keyEnd])
	val, units, badVal := unescape(text[vs:])
	l := Line{Key: string(key), raw: string(val), malformed: badKey || badVal}
	// Trim as String.trim does, by decoded character.
	first, last := 0, len(units)-1
	for first <= last && units[first].code <= ' ' {
		first++
	}
	for last >= first && units[last].code <= ' ' {
		last--
	}
	switch {
	case first <= last:
		l.valStart, l.valEnd = at[vs+units[first].start], at[vs+units[last].end-1]+1
		for _, u := range units[first : last+1] {
			l.Value += string(val[u.out:u.outEnd])
		}
	case len(units) > 0: // only blanks: a value goes before them
		l.valStart = at[vs]
		l.valEnd = l.valStart
	default: // nothing after the key: a value goes at the end
		l.valStart = joint
		if len(text) > 0 {
			l.valStart = at[len(text)-1] + 1
		}
		l.valEnd = l.valStart
		l.noSep = keyEnd == len(text)
	}
	return l
}

// unit is one decoded character of a key or value: its code, the bytes
// [start, end) of the logical line it comes from, and [out, outEnd) of the
// decoded bytes it makes.
type unit struct {
	code        rune
	start, end  int
	out, outEnd int
}

// unescape decodes the escapes of java.util.Properties in b. A malformed
// \uXXXX (the JDK throws, the FE does not start) is kept as it is and
// reported.
func unescape(b []byte) (out []byte, units []unit, malformed bool) {
	for i := 0; i < len(b); {
		u := unit{code: rune(b[i]), start: i, end: i + 1, out: len(out)}
		switch {
		case b[i] != '\\' || i+1 == len(b):
			out = append(out, b[i])
		case b[i+1] == 'u':
			n, err := strconv.ParseUint(string(b[i+2:min(i+6, len(b))]), 16, 16)
			if err != nil || i+6 > len(b) {
				malformed = true
				u.end = min(i+6, len(b))
				out = append(out, b[i:u.end]...)
				break
			}
			u.code, u.end = rune(n), i+6
			out = utf8.AppendRune(out, u.code)
		default:
			u.end = i + 2
			u.code = rune(b[i+1])
			switch b[i+1] {
			case 't':
				u.code = '\t'
			case 'n':
				u.code = '\n'
			case 'r':
				u.code = '\r'
			case 'f':
				u.code = '\f'
			}
			out = append(out, byte(u.code))
		}
		u.outEnd = len(out)
		units = append(units, u)
		i = u.end
	}
	return out, units, malformed
}
