package cluster

import (
	"testing"
	"time"
)

// The default stop budget follows grace_shutdown_wait_seconds, as the
// operator's terminationGracePeriodSeconds does.
func TestStopTimeoutFollowsGrace(t *testing.T) {
	for _, tt := range []struct {
		c     Component
		confs []string
		want  time.Duration
	}{
		{FE, nil, 300 * time.Second},
		{BE, nil, 180 * time.Second},
		{BE, []string{"grace_shutdown_wait_seconds = 1200\n"}, 1170 * time.Second},
		{BE, []string{"grace_shutdown_wait_seconds = 60\n"}, 50 * time.Second},
		{FE, []string{"grace_shutdown_wait_seconds = 0\n", "grace_shutdown_wait_seconds=600"}, 570 * time.Second},
		{BE, []string{"grace_shutdown_wait_seconds = soon\n"}, 180 * time.Second},
		{BE, []string{"", "grace_shutdown_wait_seconds = 400\n"}, 370 * time.Second},
	} {
		var confs [][]byte
		for _, c := range tt.confs {
			confs = append(confs, []byte(c))
		}
		if got := tt.c.StopTimeout(confs...); got != tt.want {
			t.Errorf("%s %q: %s, want %s", tt.c.Name, tt.confs, got, tt.want)
		}
	}
}
