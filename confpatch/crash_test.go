package confpatch

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCrashAnywhere SIGKILLs a process that loops Enter and Restore at
// random moments, and checks after each kill that the conf is the original
// or the patched file, never a mix, and that Restore then gives back the
// original byte for byte.
func TestCrashAnywhere(t *testing.T) {
	if conf := os.Getenv("CONFPATCH_CRASH_LOOP"); conf != "" {
		for { // killed by the parent
			Enter(conf, FEPorts, 10000)
			Restore(conf)
		}
	}
	orig := readTestdata(t, "fe.conf")
	patched, _, err := MovePorts(orig, FEPorts, 10000)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "fe.conf")
	writeFile(t, conf, orig, 0o644)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 60; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAnywhere$")
		cmd.Env = append(os.Environ(), "CONFPATCH_CRASH_LOOP="+conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The behaviour under test is a kill at an arbitrary moment.
		time.Sleep(time.Duration(rng.Intn(20000)) * time.Microsecond)
		cmd.Process.Kill()
		cmd.Wait()

		cur := mustRead(t, conf)
		if !bytes.Equal(cur, orig) && !bytes.Equal(cur, patched) {
			t.Fatalf("kill %d left a conf that is neither the original nor the patched one:\n%s", i, cur)
		}
		if !HasMarker(conf) && !bytes.Equal(cur, orig) {
			t.Fatalf("kill %d: patched conf without a marker", i)
		}
		if _, err := Restore(conf); err != nil {
			t.Fatalf("kill %d: Restore: %v", i, err)
		}
		if !bytes.Equal(mustRead(t, conf), orig) {
			t.Fatalf("kill %d: Restore did not give back the original", i)
		}
		// A killed write leaves its temp file; Restore, as at a start,
		// removes it.
		if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), ".fe.conf*")); len(tmps) != 0 {
			t.Fatalf("kill %d: temp files left after Restore: %v", i, tmps)
		}
	}
}
