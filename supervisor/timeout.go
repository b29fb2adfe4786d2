package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration setting (DORIS_ENTRYPOINT_STOP_TIMEOUT and
// the other waits): whole seconds ("300") or a Go duration ("5m", "90s"). It
// must be positive.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q: want seconds (300) or a duration (5m)", v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", v)
	}
	return d, nil
}
