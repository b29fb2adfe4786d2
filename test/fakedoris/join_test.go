package fakedoris

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FEs that share no FAKE_DIR, as under the unmodified operator (each pod
// its own): a follower and an observer started with --helper find the
// master through the helper, keep their query port closed until the
// master lists them and their replay is done, then serve SHOWs (the
// master's view) and forward ALTER SYSTEM to the master; restarted without
// --helper, a follower forwards again rather than becoming a second master.
func TestJoinWithoutSharedDir(t *testing.T) {
	prefix, port := loopbackNet(t)
	fc := &feCluster{t: t, dir: t.TempDir(), prefix: prefix, port: port, nodes: map[string]*FENode{}, own: true}
	fe1 := fc.start(1)
	if !fe1.IsMaster() {
		t.Fatal("the first FE is not master")
	}
	fe2 := fc.start(2, "--helper", fc.host(1)+":9010") // not added yet
	fc.must(1, fmt.Sprintf(`ALTER SYSTEM ADD OBSERVER "%s:9010"`, fc.host(3)))
	fc.start(3, "--helper", fc.host(1)+":9010")
	waitFor(t, "the observer ready and alive", func() bool {
		return fc.frontend(3, fc.host(3), "Alive") == "true" && fc.frontend(3, fc.host(1), "IsMaster") == "true"
	})
	if fe2.Ready() {
		t.Fatal("FE 2 ready while the master does not list it")
	}
	if _, err := execSQL(t, fc.addr(2), "SHOW FRONTENDS"); err == nil {
		t.Fatal("FE 2 answers before it is added")
	}
	fc.must(3, fmt.Sprintf(`ALTER SYSTEM ADD FOLLOWER "%s:9010"`, fc.host(2))) // forwarded by the observer
	waitFor(t, "FE 2 ready and alive", func() bool { return fc.frontend(2, fc.host(2), "Alive") == "true" })
	hbLn, err := net.Listen("tcp", fc.host(9)+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hbLn.Close() })
	go ServeBEHeartbeat(hbLn, "doris-2.1.5-rc02-d5a02e095d")
	fc.must(2, fmt.Sprintf(`ALTER SYSTEM ADD BACKEND "%s:%d"`, fc.host(9), hbLn.Addr().(*net.TCPAddr).Port))
	if n := len(fe1.Cluster().Backends()); n != 1 {
		t.Fatalf("the master lists %d backends after a follower forwarded ADD BACKEND", n)
	}
	waitFor(t, "the BE alive as the observer shows it", func() bool { return fc.backend(3, fc.host(9), "Alive") == "true" })
	for _, i := range []int{2, 3} {
		if _, err := os.Stat(filepath.Join(fc.dir, "fake", fc.host(i), stateFile)); err == nil {
			t.Fatalf("FE %d wrote cluster state: it acted as master", i)
		}
	}

	fe2.Close()
	fe2 = fc.start(2) // with metadata: no --helper
	if fe2.IsMaster() {
		t.Fatal("FE 2 restarted as a second master")
	}
	waitFor(t, "FE 2 back, forwarding", func() bool {
		rows, err := execSQL(t, fc.addr(2), "SHOW BACKENDS")
		return err == nil && len(rows) == 1 && strings.Contains(fmt.Sprint(rows), fc.host(9))
	})
}
