package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/apache/doris-entrypoint/probes"
)

// runIsAlive is `is-alive PORT`, as broker_is_alive.sh PORT (the operator's
// exec liveness, startup and readiness probe of the broker): exit 0 when a
// socket of the pod listens on PORT (probes.Listening: the broker, or debug
// mode holding its port), 1 when none does.
func runIsAlive(args []string, stdout, stderr io.Writer) int {
	port := 0
	if len(args) == 1 {
		port, _ = strconv.Atoi(args[0])
	}
	if port < 1 || port > 65535 {
		return usage(stderr, "Usage: doris-entrypoint is-alive PORT (also as broker_is_alive.sh PORT)\n\n"+
			"Exec probe: exit 0 if a socket listens on PORT in this network namespace, as netstat -nltu tells it, 1 if not.\n",
			0, append(args, "")[0])
	}
	ok, err := probes.Listening(port)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "doris-entrypoint is-alive: %v\n", err)
		return 1
	case !ok:
		fmt.Fprintf(stdout, "nothing listens on port %d\n", port)
		return 1
	}
	fmt.Fprintf(stdout, "port %d listening\n", port)
	return 0
}
