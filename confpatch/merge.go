package confpatch

import (
	"bytes"
	"sort"
)

// maxMergeCells bounds the line alignment of a merge (lines of the patched
// conf times lines of the edited one, once their common head and tail are
// set aside): a larger edit is kept as a copy instead.
const maxMergeCells = 1 << 22

// hunk is a run of lines debug mode changed: lines [o0, o1) of the original
// became lines [p0, p1) of the patched conf.
type hunk struct{ o0, o1, p0, p1 int }

// splitLines cuts b into lines, each with its '\n' (the last may lack it).
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n') + 1
		if i == 0 {
			i = len(b)
		}
		out = append(out, b[:i])
		b = b[i:]
	}
	return out
}

// lineStarts returns the offset where each line of b begins.
func lineStarts(lines [][]byte) []int {
	starts := make([]int, len(lines))
	off := 0
	for i, l := range lines {
		starts[i] = off
		off += len(l)
	}
	return starts
}

// lineOf is the index of the line that holds offset off (the last line for
// an offset at the end).
func lineOf(starts []int, off int) int {
	return max(sort.SearchInts(starts, off+1)-1, 0)
}

// hunks returns the lines p changed in the original o, in order, those that
// share a line joined.
func hunks(o []byte, p patch) []hunk {
	oStarts, pStarts := lineStarts(splitLines(o)), lineStarts(splitLines(p.out))
	nO, nP := len(oStarts), len(pStarts)
	var out []hunk
	add := func(h hunk) {
		if n := len(out); n > 0 && h.o0 < out[n-1].o1 {
			out[n-1].o1, out[n-1].p1 = max(out[n-1].o1, h.o1), max(out[n-1].p1, h.p1)
			return
		}
		out = append(out, h)
	}
	delta := 0
	for _, e := range p.edits {
		ps := e.start + delta
		pe := ps + len(e.val)
		delta += len(e.val) - (e.end - e.start)
		add(hunk{
			o0: lineOf(oStarts, e.start), o1: lineOf(oStarts, max(e.end-1, e.start)) + 1,
			p0: lineOf(pStarts, ps), p1: lineOf(pStarts, max(pe-1, ps)) + 1,
		})
	}
	if p.appendAt < len(p.out) {
		// The appended lines, and the last line of o when the append gave
		// it its '\n'.
		h := hunk{o0: nO, o1: nO, p0: lineOf(pStarts, p.appendAt), p1: nP}
		if len(o) > 0 && o[len(o)-1] != '\n' {
			h.o0, h.p0 = nO-1, lineOf(pStarts, p.appendAt-1)
		}
		add(h)
	}
	return out
}

// matchLines aligns the lines of a with those of b (a longest common
// subsequence, after their common head and tail): m[i] is the line of b that
// line i of a is, or -1. It gives up (false) past maxMergeCells.
func matchLines(a, b [][]byte) ([]int, bool) {
	m := make([]int, len(a))
	for i := range m {
		m[i] = -1
	}
	head := 0
	for head < len(a) && head < len(b) && bytes.Equal(a[head], b[head]) {
		m[head] = head
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && bytes.Equal(a[len(a)-1-tail], b[len(b)-1-tail]) {
		m[len(a)-1-tail] = len(b) - 1 - tail
		tail++
	}
	A, B := a[head:len(a)-tail], b[head:len(b)-tail]
	if len(A) == 0 || len(B) == 0 {
		return m, true
	}
	if len(A)*len(B) > maxMergeCells {
		return nil, false
	}
	w := len(B) + 1
	lcs := make([]int32, (len(A)+1)*w) // lcs[i*w+j]: of A[i:] and B[j:]
	for i := len(A) - 1; i >= 0; i-- {
		for j := len(B) - 1; j >= 0; j-- {
			if bytes.Equal(A[i], B[j]) {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < len(A) && j < len(B); {
		switch {
		case bytes.Equal(A[i], B[j]):
			m[head+i] = head + j
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return m, true
}

// merge returns cur, the patched conf p of the original o as someone edited
// it, with the lines debug mode changed put back as they are in o, so that
// their edit stays. It refuses (with why) when the edit changed or removed
// one of those lines, or leaves a moved port in effect.
func merge(s Syntax, o []byte, p patch, cur []byte) ([]byte, string) {
	pl, cl, ol := splitLines(p.out), splitLines(cur), splitLines(o)
	m, ok := matchLines(pl, cl)
	if !ok {
		return nil, "too large an edit to merge"
	}
	var out []byte
	c := 0 // next line of cur to copy
	for _, h := range hunks(o, p) {
		for i := h.p0; i < h.p1; i++ {
			if m[i] < 0 || (i > h.p0 && m[i] != m[i-1]+1) {
				return nil, "the edit changes a line debug mode moved"
			}
		}
		if h.p0 == h.p1 {
			continue
		}
		for ; c < m[h.p0]; c++ {
			out = append(out, cl[c]...)
		}
		for _, l := range ol[h.o0:h.o1] {
			out = append(out, l...)
		}
		c = m[h.p1-1] + 1
		if c < len(cl) && len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n') // the original's last line, now followed by one of theirs
		}
	}
	for ; c < len(cl); c++ {
		out = append(out, cl[c]...)
	}
	for _, mv := range p.moved {
		if v, err := s.PortValue(out, Port{Key: mv.Key, Default: mv.From}); err == nil && v == mv.To {
			return nil, "the edit sets " + mv.Key + " to the moved port"
		}
	}
	return out, ""
}
