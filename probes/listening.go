package probes

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listening reports whether a socket of this network namespace listens on
// port, as `netstat -nltu | grep ":<port> "` tells it (apache/doris
// docker/runtime/broker/resource/broker_is_alive.sh, the operator's exec
// liveness and readiness probe of the broker): a TCP socket in LISTEN, or a
// UDP socket bound to the port with no peer, IPv4 or IPv6. It reads
// /proc/net like netstat, so whatever holds the port counts: the broker, or
// debug mode's holder.
func Listening(port int) (bool, error) { return listening("/proc/net", port) }

func listening(procNet string, port int) (bool, error) {
	if port < 1 || port > 65535 {
		return false, fmt.Errorf("invalid port %d", port)
	}
	read := 0
	var errs []string
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		ok, err := listensIn(filepath.Join(procNet, f), port, strings.HasPrefix(f, "tcp"))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		read++
		if ok {
			return true, nil
		}
	}
	if read == 0 {
		return false, fmt.Errorf("no socket table readable: %s", strings.Join(errs, "; "))
	}
	return false, nil
}

// tcpListen is the st column of a TCP socket in LISTEN
// (include/net/tcp_states.h TCP_LISTEN).
const tcpListen = "0A"

// listensIn scans one /proc/net table: "sl local_address rem_address st …",
// addresses as hex IP:hex port.
func listensIn(path string, port int, tcp bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
			continue
		}
		if tcp && fields[3] == tcpListen {
			return true, nil
		}
		// netstat -l shows a UDP socket whose remote address is unset.
		if _, remPort, _ := strings.Cut(fields[2], ":"); !tcp && strings.Trim(fields[2], "0:") == "" && remPort != "" {
			return true, nil
		}
	}
	return false, sc.Err()
}
