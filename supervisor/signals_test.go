package supervisor

import (
	"testing"

	"github.com/apache/doris-entrypoint/supervisor/earlystart/hold"
)

// The entry point holds exactly the signals the supervisor forwards.
func TestForwardedSignalsAreHeld(t *testing.T) {
	var mask uint64
	for _, s := range ForwardedSignals() {
		mask |= 1 << (s - 1)
	}
	if mask != hold.Forwarded {
		t.Fatalf("ForwardedSignals %#x, hold.Forwarded %#x", mask, hold.Forwarded)
	}
}
