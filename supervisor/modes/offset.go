package modes

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/doris-entrypoint/confpatch"
)

// portPlan is what an offset for debug mode is checked against (3): the
// ports to move at their value in the conf, and the ports in use before the
// move.
type portPlan struct {
	moves []confpatch.Moved // Key and From; To unset
	used  map[int]string    // port → what listens there
	// lo and hi bound the offsets that keep every moved port in 1..65535.
	lo, hi int
}

// newPortPlan reads conf (in syn) for the ports of ports and listens at
// their value in conf (their default when unset), every other *_port key
// conf sets, and reserved (the supervisor's probe endpoint, 0: none). A
// value that is not a port is left to confpatch.Enter, which reports it.
func newPortPlan(syn confpatch.Syntax, conf []byte, ports, listens []confpatch.Port, reserved int) portPlan {
	p := portPlan{used: map[int]string{}, lo: -65535, hi: 65535}
	note := func(port int, what string) {
		if _, ok := p.used[port]; !ok && port > 0 && port <= 65535 {
			p.used[port] = what
		}
	}
	for _, port := range append(append([]confpatch.Port(nil), ports...), listens...) {
		if v, err := syn.PortValue(conf, port); err == nil {
			note(v, port.Key)
		}
	}
	for _, l := range syn.Parse(conf) {
		if v, _ := syn.Value(conf, l.Key); strings.HasSuffix(l.Key, "_port") {
			if n, err := strconv.Atoi(v); err == nil {
				note(n, l.Key)
			}
		}
	}
	note(reserved, "the supervisor's probe endpoint")
	for _, port := range ports {
		if from, err := syn.PortValue(conf, port); err == nil {
			p.moves = append(p.moves, confpatch.Moved{Key: port.Key, From: from})
			p.lo, p.hi = max(p.lo, 1-from), min(p.hi, 65535-from)
		}
	}
	return p
}

// check says why moving the ports by offset cannot work: a moved port
// outside 1..65535, on a port in use before the move, or on another moved
// one.
func (p portPlan) check(offset int) error {
	if offset == 0 {
		return errors.New("0 moves no port")
	}
	moved := map[int]string{}
	for _, mv := range p.moves {
		to := mv.From + offset
		switch {
		case to < 1 || to > 65535:
			return fmt.Errorf("%d moves %s %d to %d, outside 1..65535", offset, mv.Key, mv.From, to)
		case p.used[to] != "":
			return fmt.Errorf("%d moves %s %d to %d, where %s listens", offset, mv.Key, mv.From, to, p.used[to])
		case moved[to] != "":
			return fmt.Errorf("%d moves %s and %s both to %d", offset, moved[to], mv.Key, to)
		}
		moved[to] = mv.Key
	}
	return nil
}

// offsetCollision says why moving ports by offset in conf (read as syn)
// cannot work (portPlan.check).
func offsetCollision(syn confpatch.Syntax, conf []byte, ports, listens []confpatch.Port, offset, reserved int) error {
	return newPortPlan(syn, conf, ports, listens, reserved).check(offset)
}

// maxInUse bounds the candidates chooseOffset tries against the ports in
// use by other processes, so that a host full of listeners cannot make the
// choice slow.
const maxInUse = 32

// chooseOffset is how debug mode picks its offset (3): want (the variable)
// when it works, else the working offset nearest to it among the multiples
// of 1000, then of 100, 10 and 1, upward before downward at the same
// distance (a negative offset moves the ports down). An offset works when
// plan.check accepts it and, with inUse set, none of the moved ports is in
// use by another process (inUse says why one is). The error, when none
// works, says why want does not.
func chooseOffset(plan portPlan, want int, inUse func(port int) error) (int, error) {
	first := plan.check(want)
	tried := 0
	try := func(o int) bool {
		if plan.check(o) != nil {
			return false
		}
		for _, mv := range plan.moves {
			if inUse == nil {
				break
			}
			if err := inUse(mv.From + o); err != nil {
				tried++
				if o == want {
					first = fmt.Errorf("%d moves %s %d to %d, %w", o, mv.Key, mv.From, mv.From+o, err)
				}
				return false
			}
		}
		return true
	}
	if try(want) {
		return want, nil
	}
	steps := []int{1000, 100, 10, 1}
	for i, step := range steps {
		var cands []int
		start := plan.lo / step * step // rounded toward 0: up when negative
		if start < plan.lo {
			start += step
		}
		for o := start; o <= plan.hi; o += step {
			if o == 0 || o == want || (i > 0 && o%steps[i-1] == 0) {
				continue
			}
			cands = append(cands, o)
		}
		dist := func(o int) int { return max(o-want, want-o) }
		slices.SortFunc(cands, func(a, b int) int { return cmp.Or(cmp.Compare(dist(a), dist(b)), cmp.Compare(b, a)) })
		for _, o := range cands {
			if tried >= maxInUse {
				return 0, fmt.Errorf("%w; and the ports of %d other offsets are in use", first, maxInUse)
			}
			if try(o) {
				return o, nil
			}
		}
	}
	var keys []string
	for _, mv := range plan.moves {
		keys = append(keys, fmt.Sprintf("%s %d", mv.Key, mv.From))
	}
	return 0, fmt.Errorf("%w, and no other offset moves %s within 1..65535 clear of the ports in use", first, strings.Join(keys, ", "))
}

// portInUse says whether another process listens on port: it tries to
// listen there itself, on every address, as Doris does.
func portInUse(port int) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("in use by another process")
	}
	return ln.Close()
}

// addrPort is the port of a listening address such as ":8099"; 0 when it
// has none (empty, ":0").
func addrPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
