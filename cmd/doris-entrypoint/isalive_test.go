package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
)

// broker_is_alive.sh PORT and the broker's other links dispatch by argv[0];
// is-alive answers as the script's netstat: 0 while PORT listens, 1 after.
func TestBrokerLinks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name, argv0 string
		args        []string
		close       bool // close the listener first
		env         []string
		code        int
		want        string
	}{
		{"listening", "/opt/apache-doris/broker_is_alive.sh", []string{port}, false, nil, 0, "port " + port + " listening"},
		{"subcommand", "doris-entrypoint", []string{"is-alive", port}, false, nil, 0, "listening"},
		{"not listening", "/opt/apache-doris/broker_is_alive.sh", []string{port}, true, nil, 1, "nothing listens on port " + port},
		{"no port", "/opt/apache-doris/broker_is_alive.sh", nil, false, nil, 2, "Usage: doris-entrypoint is-alive PORT"},
		{"bad port", "/opt/apache-doris/broker_is_alive.sh", []string{"80000"}, false, nil, 2, "Usage"},
		{"help", "/opt/apache-doris/broker_is_alive.sh", []string{"-h"}, false, nil, 0, "Usage"},
		{"entrypoint", "/opt/apache-doris/broker_entrypoint.sh", []string{"-h"}, false, nil, 0,
			"apache_hdfs_broker/bin/start_broker.sh.\n"},
		{"entrypoint help lists the broker name", "doris-entrypoint", []string{"broker", "-h"}, false, nil, 0, "DORIS_ENTRYPOINT_BROKER_NAME (default broker001)"},
		{"bad broker name", "doris-entrypoint", []string{"broker", "fe:9030"}, false, []string{"DORIS_ENTRYPOINT_BROKER_NAME", "b`;drop"}, 2,
			"DORIS_ENTRYPOINT_BROKER_NAME"},
		{"prestop without a supervisor", "/opt/apache-doris/broker_prestop.sh", nil, false, nil, 1, "control socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.close {
				ln.Close()
			}
			var out bytes.Buffer
			e := env(append([]string{"DORIS_ROOT", t.TempDir()}, tt.env...)...)
			if code := run(append([]string{tt.argv0}, tt.args...), e, &out, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("code %d, want %d; output lacks %q:\n%s", code, tt.code, tt.want, out.String())
			}
		})
	}
}
