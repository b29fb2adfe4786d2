package modes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
)

// TestCheckOffset: at start, against Doris' default ports and the probe
// endpoint (the repro: 1000 moves the FE's http_port onto the
// query_port the holder keeps open, so debug mode could never be left),
// or against the conf at hand.
func TestCheckOffset(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "fe.conf")
	if err := os.WriteFile(conf, []byte("http_port = 8031\nquery_port = 9030\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A conf an interrupted debug mode left moved: its original counts.
	crashed := filepath.Join(dir, "crashed", "fe.conf")
	if err := os.MkdirAll(filepath.Dir(crashed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, []byte("http_port = 8030\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := confpatch.Enter(crashed, cluster.FE.DebugPorts(), 5); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "configmap", "fe.conf")
	tests := []struct {
		comp   cluster.Component
		offset int
		probe  string
		confs  []string
		want   string // in the error; "" = no collision
	}{
		{cluster.FE, 10000, ":8099", nil, ""},
		{cluster.BE, 10000, ":8099", nil, ""},
		{cluster.FE, 1000, ":8099", nil, "1000 moves http_port 8030 to 9030, where query_port listens (Doris' default ports)"},
		{cluster.FE, 980, "", nil, "to 9010, where edit_log_port listens"},
		{cluster.FE, 990, "", nil, "to 9020, where rpc_port listens"},
		{cluster.FE, 69, ":8099", nil, "to 8099, where the supervisor's probe endpoint listens"},
		{cluster.FE, 69, "127.0.0.1:0", nil, ""},
		{cluster.FE, 56506, "", nil, "moves query_port 9030 to 65536, outside 1..65535"},
		{cluster.BE, 1010, "", nil, "webserver_port 8040 to 9050, where heartbeat_service_port listens"},
		{cluster.BE, 10, "", nil, "heartbeat_service_port 9050 to 9060, where be_port listens"},
		{cluster.BE, 20, "", nil, "to 8060, where brpc_port listens"},
		{cluster.FE, 1000, "", []string{missing, conf}, ""},
		{cluster.FE, 999, "", []string{missing, conf}, "999 moves http_port 8031 to 9030, where query_port listens (the ports of " + conf + ")"},
		{cluster.FE, 1000, "", []string{crashed}, "http_port 8030 to 9030, where query_port listens (the ports of " + crashed + " before debug mode)"},
	}
	for _, tt := range tests {
		err := CheckOffset(tt.comp, tt.offset, tt.probe, tt.confs...)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s offset %d %v: %v, want no collision", tt.comp.Name, tt.offset, tt.confs, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s offset %d %v: %v, want %q", tt.comp.Name, tt.offset, tt.confs, err, tt.want)
		}
	}
}

// TestOffsetCollisionInConf: when debug mode is entered, against the
// conf's own ports, any *_port key it sets, and each other.
func TestOffsetCollisionInConf(t *testing.T) {
	tests := []struct {
		name, conf string
		offset     int
		want       string
	}{
		{"moved http_port clears query_port", "http_port = 8031\n", 1000, ""},
		{"onto a key only the conf names", "http_port = 8031\nhttps_port = 9031\n", 1000, "to 9031, where https_port listens"},
		{"the last assignment counts", "https_port = 9031\nhttps_port = 9500\nhttp_port = 8031\n", 1000, ""},
		{"onto another moved port's original", "query_port = 9030\nhttp_port = 19030\n", 10000, "query_port 9030 to 19030, where http_port listens"},
		{"onto each other", "query_port = 9030\nhttp_port = 9030\n", 10, "query_port and http_port both to 9040"},
		{"an arrow flight port set", "arrow_flight_sql_port = 18030\n", 10000, "http_port 8030 to 18030, where arrow_flight_sql_port listens"},
		{"not a port: left to Enter", "http_port = ${HTTP_PORT}\n", 1000, ""},
		{"Java properties separators", "http_port: 8031\nhttps_port 9031\n", 1000, "to 9031, where https_port listens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := offsetCollision(confpatch.FESyntax, []byte(tt.conf), cluster.FE.DebugPorts(), cluster.FE.Listens, tt.offset, 0)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%v, want no collision", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%v, want %q", err, tt.want)
			}
		})
	}
}
