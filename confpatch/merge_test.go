package confpatch

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzMerge inserts one line anywhere into a patched conf and checks the
// merge against the same insertion into the original: equal bytes, or a
// refusal exactly when the line lands inside lines debug mode changed or
// leaves a moved port in effect.
func FuzzMerge(f *testing.F) {
	f.Add(readTestdataF(f, "fe.conf"), "sys_log_level = DEBUG", uint(40))
	f.Add([]byte("x = 1\nhttp_port = 8030\ny = 2"), "z = 3", uint(3))
	f.Add([]byte("query_port: 90\\\n 31\nhttp_port\n"), "query_port = 19031", uint(1))
	f.Add([]byte("a\\\n"), "b", uint(1))
	f.Fuzz(func(t *testing.T, o []byte, line string, pos uint) {
		line = strings.NewReplacer("\n", "", "\r", "").Replace(line)
		s := FESyntax
		p, err := s.movePorts(o, FEPorts, 10000)
		if err != nil {
			return
		}
		pl, ol := splitLines(p.out), splitLines(o)
		k := int(pos % uint(len(pl)+1))
		if k == len(pl) && len(p.out) > 0 && p.out[len(p.out)-1] != '\n' {
			return // no line can follow an unterminated last line
		}
		inside, oIdx := false, k
		for _, h := range hunks(o, p) {
			for i := h.p0; i < h.p1; i++ {
				if string(pl[i]) == line+"\n" {
					return // the same text as a changed line: either may be taken for it
				}
			}
			switch {
			case h.p0 < k && k < h.p1:
				inside = true
			case h.p1 <= k:
				oIdx -= (h.p1 - h.p0) - (h.o1 - h.o0)
			}
		}
		cur := join(pl[:k], []byte(line+"\n"), pl[k:])
		got, why := merge(s, o, p, cur)
		if inside {
			if got != nil {
				t.Fatalf("a line inside the changed ones was merged: %q", got)
			}
			return
		}
		want := join(ol[:oIdx], []byte(line+"\n"), ol[oIdx:])
		inEffect := false
		for _, mv := range p.moved {
			if v, err := s.PortValue(want, Port{Key: mv.Key, Default: mv.From}); err == nil && v == mv.To {
				inEffect = true
			}
		}
		switch {
		case inEffect && got != nil:
			t.Fatalf("merged with a moved port in effect: %q", got)
		case !inEffect && got == nil:
			t.Fatalf("not merged (%s): %q into %q at line %d", why, line, p.out, k)
		case got != nil && !bytes.Equal(got, want):
			t.Fatalf("merged %q, want %q", got, want)
		}
	})
}

// join concatenates lines with the middle one, giving a line that lacks its
// '\n' one when another follows.
func join(before [][]byte, mid []byte, after [][]byte) []byte {
	var out []byte
	for _, l := range before {
		out = append(out, l...)
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, mid...)
	for _, l := range after {
		out = append(out, l...)
	}
	return out
}
