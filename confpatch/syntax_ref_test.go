package confpatch

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reference readers below follow the upstream code statement by
// statement, so that the fuzz target can hold Parse to them: javaLoad is
// java.util.Properties.load(Reader) of JDK 17 (LineReader.readLine, load0,
// loadConvert), which ConfigBase.initConf uses for fe.conf; beLoad is
// config::Properties::load of apache/doris be/src/common/configbase.cpp.
// Bytes stand for Java chars: every char either treats specially is ASCII.

type refKV struct{ key, value string }

var errMalformed = errors.New("Malformed \\uxxxx encoding.")

type refLineReader struct {
	in      []byte
	off     int
	lineBuf []byte
}

// readLine returns the next logical line, or false at the end.
func (r *refLineReader) readLine() ([]byte, bool) {
	r.lineBuf = r.lineBuf[:0]
	skipWhiteSpace, appendedLineBegin, precedingBackslash := true, false, false
	for {
		if r.off >= len(r.in) {
			if len(r.lineBuf) == 0 {
				return nil, false
			}
			if precedingBackslash {
				return r.lineBuf[:len(r.lineBuf)-1], true
			}
			return r.lineBuf, true
		}
		c := r.in[r.off]
		r.off++
		if skipWhiteSpace {
			if c == ' ' || c == '\t' || c == '\f' {
				continue
			}
			if !appendedLineBegin && (c == '\r' || c == '\n') {
				continue
			}
			skipWhiteSpace, appendedLineBegin = false, false
		}
		if len(r.lineBuf) == 0 && (c == '#' || c == '!') {
			for { // a comment: consume the rest of the line
				if r.off >= len(r.in) {
					return nil, false
				}
				b := r.in[r.off]
				r.off++
				if b == '\r' || b == '\n' {
					break
				}
			}
			skipWhiteSpace = true
			continue
		}
		if c != '\n' && c != '\r' {
			r.lineBuf = append(r.lineBuf, c)
			precedingBackslash = c == '\\' && !precedingBackslash
			continue
		}
		if len(r.lineBuf) == 0 {
			skipWhiteSpace = true
			continue
		}
		if r.off >= len(r.in) {
			if precedingBackslash {
				return r.lineBuf[:len(r.lineBuf)-1], true
			}
			return r.lineBuf, true
		}
		if !precedingBackslash {
			return r.lineBuf, true
		}
		r.lineBuf = r.lineBuf[:len(r.lineBuf)-1]
		skipWhiteSpace, appendedLineBegin, precedingBackslash = true, true, false
		if c == '\r' && r.in[r.off] == '\n' {
			r.off++
		}
	}
}

func javaLoad(in []byte) ([]refKV, error) {
	var out []refKV
	lr := &refLineReader{in: in}
	for {
		line, ok := lr.readLine()
		if !ok {
			return out, nil
		}
		limit := len(line)
		keyLen, valueStart, hasSep, precedingBackslash := 0, limit, false, false
		for keyLen < limit {
			c := line[keyLen]
			if (c == '=' || c == ':') && !precedingBackslash {
				valueStart, hasSep = keyLen+1, true
				break
			} else if (c == ' ' || c == '\t' || c == '\f') && !precedingBackslash {
				valueStart = keyLen + 1
				break
			}
			precedingBackslash = c == '\\' && !precedingBackslash
			keyLen++
		}
		for valueStart < limit {
			c := line[valueStart]
			if c != ' ' && c != '\t' && c != '\f' {
				if !hasSep && (c == '=' || c == ':') {
					hasSep = true
				} else {
					break
				}
			}
			valueStart++
		}
		key, err := loadConvert(line[:keyLen])
		if err != nil {
			return nil, err
		}
		value, err := loadConvert(line[valueStart:])
		if err != nil {
			return nil, err
		}
		out = append(out, refKV{key, value})
	}
}

func loadConvert(in []byte) (string, error) {
	var out []byte
	for off := 0; off < len(in); {
		c := in[off]
		off++
		if c != '\\' {
			out = append(out, c)
			continue
		}
		c = in[off]
		off++
		if c == 'u' {
			if off > len(in)-4 {
				return "", errMalformed
			}
			value := 0
			for i := 0; i < 4; i++ {
				c = in[off]
				off++
				switch {
				case c >= '0' && c <= '9':
					value = value<<4 + int(c-'0')
				case c >= 'a' && c <= 'f':
					value = value<<4 + 10 + int(c-'a')
				case c >= 'A' && c <= 'F':
					value = value<<4 + 10 + int(c-'A')
				default:
					return "", errMalformed
				}
			}
			out = utf8.AppendRune(out, rune(value))
			continue
		}
		switch c {
		case 't':
			c = '\t'
		case 'r':
			c = '\r'
		case 'n':
			c = '\n'
		case 'f':
			c = '\f'
		}
		out = append(out, c)
	}
	return string(out), nil
}

// javaTrim is String.trim.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func beLoad(in []byte) []refKV {
	var out []refKV
	trim := func(s string) string {
		return strings.TrimFunc(s, func(r rune) bool { return r < utf8.RuneSelf && isCSpace(byte(r)) })
	}
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(nil, len(in)+1)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) { // std::getline: up to '\n'
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		line := trim(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v := line, ""
		if i := strings.IndexByte(line, '='); i >= 0 {
			k, v = line[:i], line[i+1:]
		}
		out = append(out, refKV{trim(k), trim(v)})
	}
	return out
}

// isCSpace is isspace(3) in the "C" locale, written out.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// checkParse holds s.Parse(conf) to the reference reader, then checks that
// changing any one value in place (Line.edit) changes that value alone.
func checkParse(t *testing.T, s Syntax, conf []byte) {
	t.Helper()
	got := s.Parse(conf)
	var want []refKV
	if s == FESyntax {
		var err error
		if want, err = javaLoad(conf); err != nil {
			for _, l := range got {
				if l.malformed {
					return
				}
			}
			t.Fatalf("%s: the JDK rejects %q (%v), Parse flags no line", s, conf, err)
		}
	} else {
		want = beLoad(conf)
	}
	rawOf := func(l Line) string {
		if s == FESyntax {
			return l.raw
		}
		return l.Value
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %q: Parse found %d assignments, the reference %d:\n%+v\n%+v", s, conf, len(got), len(want), got, want)
	}
	for i, w := range want {
		l := got[i]
		trimmed := javaTrim(w.value)
		if s == BESyntax {
			trimmed = w.value
		}
		if l.malformed || l.Key != w.key || rawOf(l) != w.value || l.Value != trimmed {
			t.Fatalf("%s: %q: assignment %d = %q:%q (raw %q), want %q:%q", s, conf, i, l.Key, l.Value, l.raw, w.key, w.value)
		}
	}
	for i, l := range got {
		start, end, repl := l.edit("12345")
		out := append(append(append([]byte(nil), conf[:start]...), repl...), conf[end:]...)
		after := s.Parse(out)
		if len(after) != len(got) {
			t.Fatalf("%s: %q: setting assignment %d gives %q, with %d assignments instead of %d", s, conf, i, out, len(after), len(got))
		}
		for j, a := range after {
			if j == i && (a.Key != l.Key || a.Value != "12345") || j != i && (a.Key != got[j].Key || rawOf(a) != rawOf(got[j])) {
				t.Fatalf("%s: %q: setting assignment %d gives %q, whose assignment %d is %q:%q", s, conf, i, out, j, a.Key, a.Value)
			}
		}
	}
}

var parseSeeds = []string{
	"query_port = 9030\nhttp_port=8030",
	"query_port: 9031\nquery_port 9032\n\fquery_port\t=\t9033\r\n",
	"a = 1\\\n   2\\\r\n\t3\\\r  4\n",
	"\\\n#x=1\n! y\n  # z \\\nz=\\\n",
	"query\\u005fport = 9\\031\\t\nk\\=x\\:y\\ z = v\n",
	"bad = \\u12\n",
	"key\nkey \nkey=\nkey:\n=v\n: v\n \\ k = \\ v \\\n",
	"x = \\\\\\\nnext\nlast\\",
	"a=1\rb=2\r\rc=\\\r\n",
	"\vheartbeat_service_port\t= 9051 \r\nheartbeat_service_port\n = \n",
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Add(readTestdataF(f, "fe.conf"))
	f.Add(readTestdataF(f, "be.conf"))
	f.Fuzz(func(t *testing.T, conf []byte) {
		checkParse(t, FESyntax, conf)
		checkParse(t, BESyntax, conf)
	})
}

// The seeds, as a plain test: each rule the fuzz target checks, once.
func TestParseAgainstReference(t *testing.T) {
	for i, s := range parseSeeds {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			checkParse(t, FESyntax, []byte(s))
			checkParse(t, BESyntax, []byte(s))
		})
	}
}
