package modes

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
)

// TestChooseOffset: debug mode's offset (2): the configured one when it
// works, else the nearest that does, downward too; refused, with the
// configured one's reason, when none does. The repro: http_port
// 60000, a conf Doris accepts, moved by 10000 would leave 1..65535.
func TestChooseOffset(t *testing.T) {
	busy := func(ports ...int) func(int) error {
		return func(p int) error {
			if slices.Contains(ports, p) {
				return errors.New("in use by another process")
			}
			return nil
		}
	}
	tests := []struct {
		name   string
		comp   cluster.Component
		conf   string
		want   int
		probe  int
		inUse  func(int) error
		got    int
		refuse string // in the error; "": an offset works
	}{
		{name: "defaults: the configured one", comp: cluster.FE, want: 10000, got: 10000},
		{name: "BE defaults", comp: cluster.BE, want: 10000, got: 10000},
		{name: "http_port 60000: the nearest below", comp: cluster.FE, conf: "http_port = 60000\n", want: 10000, got: 5000},
		{name: "only downward works", comp: cluster.FE, conf: "query_port = 65535\n", want: 10000, got: -1000},
		{name: "onto query_port: the next one up", comp: cluster.FE, want: 1000, got: 2000},
		{name: "onto the probe endpoint", comp: cluster.FE, want: 69, probe: 8099, got: 2000},
		{name: "BE onto heartbeat_service_port", comp: cluster.BE, want: 1010, got: 1000},
		{name: "moved ports in use by another process", comp: cluster.FE, want: 10000, inUse: busy(18030, 19030), got: 12000},
		{name: "a narrow range: multiples of 100", comp: cluster.FE, conf: "query_port = 65000\nhttp_port = 600\n", want: 10000, got: 500},
		{name: "ports at both ends: refused", comp: cluster.FE, conf: "query_port = 65535\nhttp_port = 1\n", want: 10000,
			refuse: "10000 moves query_port 65535 to 75535, outside 1..65535, and no other offset moves query_port 65535, http_port 1 within 1..65535"},
		{name: "one port for both: refused", comp: cluster.FE, conf: "query_port = 9030\nhttp_port = 9030\n", want: 10000,
			refuse: "10000 moves query_port and http_port both to 19030"},
		{name: "every moved port in use: refused", comp: cluster.FE, want: 10000, inUse: func(int) error { return errors.New("in use by another process") },
			refuse: "10000 moves query_port 9030 to 19030, in use by another process; and the ports of 32 other offsets are in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			syn := confpatch.SyntaxOf(tt.comp.Conf)
			plan := newPortPlan(syn, []byte(tt.conf), tt.comp.DebugPorts(), tt.comp.Listens, tt.probe)
			got, err := chooseOffset(plan, tt.want, tt.inUse)
			switch {
			case tt.refuse == "" && (err != nil || got != tt.got):
				t.Errorf("chooseOffset = %d, %v; want %d", got, err, tt.got)
			case tt.refuse != "" && (err == nil || !strings.Contains(err.Error(), tt.refuse)):
				t.Errorf("chooseOffset = %d, %v; want refused with %q", got, err, tt.refuse)
			}
			if err == nil && plan.check(got) != nil {
				t.Errorf("chose %d, which does not work: %v", got, plan.check(got))
			}
		})
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
