package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// writeProc fakes /proc/<pid>/stat with a start time (field 22).
func writeProc(t *testing.T, dir string, pid, ppid, pgid int, state byte, start uint64) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprint(pid))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%d (p%d) %c %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", pid, pid, state, ppid, pgid, pgid, start)
	if err := os.WriteFile(filepath.Join(p, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTree follows the main child's tree through its stop: a grandchild in
// a session of its own, reparented to PID 1, stays a member, and so does
// what it forks; a kubectl exec session's leftover adopted by PID 1 never
// is, nor a process that reuses a member's pid.
func TestTree(t *testing.T) {
	dir := t.TempDir()
	writeProc(t, dir, 1, 0, 1, 'S', 1)      // PID 1
	writeProc(t, dir, 10, 1, 10, 'S', 100)  // start_fe.sh, the main child
	writeProc(t, dir, 11, 10, 10, 'S', 101) // java, same group
	writeProc(t, dir, 12, 10, 12, 'S', 102) // a daemon of its own (setsid)
	writeProc(t, dir, 30, 1, 30, 'S', 50)   // kubectl exec leftover, adopted
	writeProc(t, dir, 31, 30, 30, 'S', 51)  // and its child
	tr := newTree(dir, &Child{pid: 10})
	check := func(step string, want ...int) {
		t.Helper()
		var got []int
		for _, e := range tr.refresh() {
			got = append(got, e.pid)
		}
		sort.Ints(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: members %v, want %v", step, got, want)
		}
	}
	check("running", 10, 11, 12)

	// The main child exits: its daemon is reparented to PID 1 and forks.
	os.RemoveAll(filepath.Join(dir, "10"))
	writeProc(t, dir, 12, 1, 12, 'S', 102)
	writeProc(t, dir, 13, 12, 12, 'S', 103)
	check("child gone", 11, 12, 13)
	if got := tr.outsideGroup(tr.refresh()); fmt.Sprint(got) != "[12 13]" && fmt.Sprint(got) != "[13 12]" {
		t.Fatalf("outside the group: %v, want 12 and 13", got)
	}
	if got := tr.outsideGroup(tr.refresh()); len(got) != 0 {
		t.Fatalf("SIGTERM twice to %v", got)
	}

	// java is a zombie; the daemon's pid is reused by an unrelated process.
	writeProc(t, dir, 11, 1, 10, 'Z', 101)
	writeProc(t, dir, 12, 1, 40, 'S', 900)
	os.RemoveAll(filepath.Join(dir, "13"))
	check("after the stop")
}
