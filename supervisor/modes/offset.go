package modes

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
)

// CheckOffset is the start-time check of DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET
// for component c (see offsetCollision), against the conf the node will
// run with as far as start can tell: the first of confs that can be read
// (the ConfigMap's copy, which Prepare links over the conf, then the conf
// itself), as it was before an interrupted debug mode moved its ports;
// with none, Doris' default ports. probeAddr is the supervisor's own probe
// endpoint. Debug mode checks again when it moves the ports (step (3)).
func CheckOffset(c cluster.Component, offset int, probeAddr string, confs ...string) error {
	data, from := startConf(confs)
	if err := offsetCollision(confpatch.SyntaxOf(c.Conf), data, c.DebugPorts(), c.Listens, offset, addrPort(probeAddr)); err != nil {
		return fmt.Errorf("%w (%s): choose another offset", err, from)
	}
	return nil
}

// startConf reads the first of paths that can be read: its original when a
// marker says debug mode moved its ports. from names it for a message.
func startConf(paths []string) (data []byte, from string) {
	for _, p := range paths {
		if st, err := confpatch.ReadState(p); err == nil {
			if st.Symlink == "" {
				return st.Original, "the ports of " + p + " before debug mode"
			}
			if target := st.Symlink; filepath.IsAbs(target) {
				p = target
			} else {
				p = filepath.Join(filepath.Dir(p), target)
			}
		}
		if b, err := os.ReadFile(p); err == nil {
			return b, "the ports of " + p
		}
	}
	return nil, "Doris' default ports"
}

// offsetCollision says why moving ports by offset in conf (read as syn)
// cannot work: a
// moved port outside 1..65535, on a port in use before the move, or on
// another moved one. In use are the ports of ports and listens at their
// value in conf (their default when unset), every other *_port key conf
// sets, and reserved (the supervisor's probe endpoint, 0: none). A value
// that is not a port is left to confpatch.Enter, which reports it.
func offsetCollision(syn confpatch.Syntax, conf []byte, ports, listens []confpatch.Port, offset, reserved int) error {
	used := map[int]string{}
	note := func(port int, what string) {
		if _, ok := used[port]; !ok && port > 0 && port <= 65535 {
			used[port] = what
		}
	}
	for _, p := range append(append([]confpatch.Port(nil), ports...), listens...) {
		if v, err := syn.PortValue(conf, p); err == nil {
			note(v, p.Key)
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
	moved := map[int]string{}
	for _, p := range ports {
		from, err := syn.PortValue(conf, p)
		if err != nil {
			continue
		}
		to := from + offset
		switch {
		case to < 1 || to > 65535:
			return fmt.Errorf("%d moves %s %d to %d, outside 1..65535", offset, p.Key, from, to)
		case used[to] != "":
			return fmt.Errorf("%d moves %s %d to %d, where %s listens", offset, p.Key, from, to, used[to])
		case moved[to] != "":
			return fmt.Errorf("%d moves %s and %s both to %d", offset, moved[to], p.Key, to)
		}
		moved[to] = p.Key
	}
	return nil
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
