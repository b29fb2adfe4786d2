package supervisor

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile")
	return 0
}

// The trim unmaps the executable's read-only pages, and the program runs on
// (its code faults back in).
func TestTrimResident(t *testing.T) {
	before := rssFileKiB(t)
	n, err := TrimResident()
	if err != nil || n == 0 {
		t.Fatalf("TrimResident() = %d, %v", n, err)
	}
	after := rssFileKiB(t)
	if after >= before {
		t.Fatalf("file-backed RSS %d KiB before, %d KiB after", before, after)
	}
	if got := strconv.Itoa(42) + strings.Repeat("!", 2); got != "42!!" {
		t.Fatalf("code after the trim computed %q", got)
	}
	t.Logf("unmapped %d KiB of mappings; file-backed RSS %d → %d KiB", n>>10, before, after)
}
