package confpatch

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	conf := []byte("# query_port = 1\n  query_port=9031 \nLOG_DIR = ${DORIS_HOME}/log\nJAVA=\"-Da=b -Dc = d\"\nnot a line\n=novalue\nkey with space = 1\nlast = x")
	type kv struct{ k, v string }
	tests := []struct {
		syntax Syntax
		want   []kv
	}{
		{FESyntax, []kv{{"query_port", "9031"}, {"LOG_DIR", "${DORIS_HOME}/log"}, {"JAVA", `"-Da=b -Dc = d"`},
			{"not", "a line"}, {"", "novalue"}, {"key", "with space = 1"}, {"last", "x"}}},
		{BESyntax, []kv{{"query_port", "9031"}, {"LOG_DIR", "${DORIS_HOME}/log"}, {"JAVA", `"-Da=b -Dc = d"`},
			{"not a line", ""}, {"", "novalue"}, {"key with space", "1"}, {"last", "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.syntax.String(), func(t *testing.T) {
			got := tt.syntax.Parse(conf)
			if len(got) != len(tt.want) {
				t.Fatalf("Parse = %+v", got)
			}
			for i, w := range tt.want {
				if got[i].Key != w.k || got[i].Value != w.v {
					t.Errorf("line %d = %q=%q, want %q=%q", i, got[i].Key, got[i].Value, w.k, w.v)
				}
			}
		})
	}
}

// changedLines returns the lines that differ between a and b, which must
// have the same number of lines.
func changedLines(t *testing.T, a, b []byte) []string {
	t.Helper()
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(la) != len(lb) {
		t.Fatalf("line count changed: %d → %d", len(la), len(lb))
	}
	var out []string
	for i := range la {
		if la[i] != lb[i] {
			out = append(out, la[i]+" → "+lb[i])
		}
	}
	return out
}

func TestMovePortsKeepsEveryOtherByte(t *testing.T) {
	tests := []struct {
		file  string
		ports []Port
		want  []string // changed lines
		moved []Moved
	}{
		{"fe.conf", FEPorts,
			[]string{"http_port = 8030 → http_port = 18030", "query_port = 9030 → query_port = 19030"},
			[]Moved{{"query_port", 9030, 19030}, {"http_port", 8030, 18030}}},
		// Duplicates: every assignment gets the effective (last) value
		// moved; trailing spaces and the missing final newline stay.
		{"be.conf", BEPorts,
			[]string{
				"webserver_port = 8040 → webserver_port = 18041",
				"heartbeat_service_port=9050 → heartbeat_service_port=19051",
				"webserver_port = 8041    → webserver_port = 18041   ",
				"heartbeat_service_port = 9051 → heartbeat_service_port = 19051",
			},
			[]Moved{{"heartbeat_service_port", 9051, 19051}, {"webserver_port", 8041, 18041}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			conf := readTestdata(t, tt.file)
			out, moved, err := MovePorts(conf, tt.ports, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if got := changedLines(t, conf, out); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(moved) != len(tt.moved) {
				t.Fatalf("moved = %+v", moved)
			}
			for i := range moved {
				if moved[i] != tt.moved[i] {
					t.Errorf("moved[%d] = %+v, want %+v", i, moved[i], tt.moved[i])
				}
			}
		})
	}
}

func TestMovePortsMissingKeyAppends(t *testing.T) {
	conf := []byte("# nothing here\nsys_log_level = INFO") // no final newline
	out, moved, err := MovePorts(conf, FEPorts, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, append(append([]byte(nil), conf...), '\n')) {
		t.Fatalf("original bytes not kept as a prefix:\n%s", out)
	}
	for _, p := range []Port{{"query_port", 19030}, {"http_port", 18030}} {
		if v, _ := Value(out, p.Key); v != strconv.Itoa(p.Default) {
			t.Errorf("%s = %q, want %d", p.Key, v, p.Default)
		}
	}
	if moved[0] != (Moved{"query_port", 9030, 19030}) {
		t.Errorf("moved = %+v", moved)
	}
}

func TestMovePortsErrors(t *testing.T) {
	tests := []struct {
		name, conf string
		offset     int
		want       string
	}{
		{"overflow", "query_port = 60000\n", 10000, "outside 1..65535"},
		{"not a number", "query_port = ${PORT}\n", 10000, `query_port = "${PORT}" is not a port number`},
		{"zero", "http_port = 0\n", 10000, "not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := MovePorts([]byte(tt.conf), FEPorts, tt.offset)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestEnterRestoreRoundTrip(t *testing.T) {
	for _, name := range []string{"fe.conf", "be.conf"} {
		t.Run(name, func(t *testing.T) {
			orig := readTestdata(t, name)
			conf := filepath.Join(t.TempDir(), name)
			writeFile(t, conf, orig, 0o640)
			ports := FEPorts
			if name == "be.conf" {
				ports = BEPorts
			}
			moved, err := Enter(conf, ports, 10000)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := os.ReadFile(conf)
			// Entering again (a restarted supervisor) must not move twice.
			moved2, err := Enter(conf, ports, 10000)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := os.ReadFile(conf)
			if !bytes.Equal(first, again) || moved[0] != moved2[0] {
				t.Fatal("second Enter changed the conf again")
			}
			st, err := ReadState(conf)
			if err != nil || len(st.Moved) != 2 {
				t.Fatalf("marker state %+v, %v", st, err)
			}
			ok, err := Restore(conf)
			if err != nil || !ok {
				t.Fatalf("Restore = %v, %v", ok, err)
			}
			got, _ := os.ReadFile(conf)
			if !bytes.Equal(got, orig) {
				t.Fatal("restored bytes differ from the original")
			}
			if fi, _ := os.Stat(conf); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", fi.Mode().Perm())
			}
			if HasMarker(conf) {
				t.Error("marker left after Restore")
			}
			if ok, err := Restore(conf); ok || err != nil {
				t.Errorf("second Restore = %v, %v; want nothing to do", ok, err)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), ".*"))
			if len(leftovers) != 0 {
				t.Errorf("temp files left: %v", leftovers)
			}
		})
	}
}

// A conf that is a symlink into a (read-only) ConfigMap mount is replaced by a
// writable copy, and the link comes back on Restore.
func TestEnterRestoreSymlink(t *testing.T) {
	cm := t.TempDir()
	target := filepath.Join(cm, "fe.conf")
	orig := readTestdata(t, "fe.conf")
	writeFile(t, target, orig, 0o444)
	if err := os.Chmod(cm, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(cm, 0o755) })
	conf := filepath.Join(t.TempDir(), "fe.conf")
	if err := os.Symlink(target, conf); err != nil {
		t.Fatal(err)
	}
	if _, err := Enter(conf, FEPorts, 10000); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(conf)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("conf is not a regular file in debug mode: %v %v", fi.Mode(), err)
	}
	if after, _ := os.ReadFile(target); !bytes.Equal(after, orig) {
		t.Fatal("the ConfigMap file was written")
	}
	if v, _ := Value(mustRead(t, conf), "query_port"); v != "19030" {
		t.Fatalf("query_port = %q", v)
	}
	if ok, err := Restore(conf); !ok || err != nil {
		t.Fatalf("Restore = %v, %v", ok, err)
	}
	if link, err := os.Readlink(conf); err != nil || link != target {
		t.Fatalf("conf is %q (%v), want the link to %s back", link, err, target)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A bad conf fails Enter with the original untouched and no marker.
func TestEnterErrorLeavesOriginal(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "fe.conf")
	orig := []byte("query_port = 65000\n")
	writeFile(t, conf, orig, 0o644)
	if _, err := Enter(conf, FEPorts, 10000); err == nil {
		t.Fatal("Enter succeeded")
	}
	if !bytes.Equal(mustRead(t, conf), orig) || HasMarker(conf) {
		t.Fatal("conf changed or marker written on error")
	}
	if _, err := Enter(filepath.Join(t.TempDir(), "missing.conf"), FEPorts, 10000); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing conf: %v", err)
	}
}

// A crash after the marker was written but before the conf was replaced
// leaves the original conf; Restore is then a no-op that clears the marker.
func TestRestoreAfterCrashBeforePatch(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "be.conf")
	orig := readTestdata(t, "be.conf")
	writeFile(t, conf, orig, 0o644)
	st := State{Mode: 0o644, Original: orig, Moved: []Moved{{"heartbeat_service_port", 9051, 19051}}}
	writeFile(t, Marker(conf), st.encode(), 0o644)
	if ok, err := Restore(conf); !ok || err != nil {
		t.Fatalf("Restore = %v, %v", ok, err)
	}
	if !bytes.Equal(mustRead(t, conf), orig) || HasMarker(conf) {
		t.Fatal("not restored cleanly")
	}
}

func TestCorruptMarkerIsAnError(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "fe.conf")
	writeFile(t, conf, []byte("query_port = 19030\n"), 0o644)
	writeFile(t, Marker(conf), []byte("garbage"), 0o644)
	if _, err := Restore(conf); err == nil || !strings.Contains(err.Error(), "not a doris-entrypoint marker") {
		t.Fatalf("Restore = %v", err)
	}
	if !HasMarker(conf) {
		t.Fatal("a marker it cannot read must be left for a human")
	}
}

func FuzzMovePorts(f *testing.F) {
	f.Add([]byte("query_port = 9030\nhttp_port=8030"), 10000)
	f.Add(readTestdataF(f, "fe.conf"), 10000)
	f.Add(readTestdataF(f, "be.conf"), 1)
	f.Add([]byte("query_port = 9030\r\nquery_port=\t9031  # c\n# http_port = 1\n"), 100)
	f.Add([]byte("query_port: 90\\\n 31\nhttp_port\nx = \\"), 7)
	f.Fuzz(func(t *testing.T, conf []byte, offset int) {
		for _, s := range []Syntax{FESyntax, BESyntax} {
			out, moved, err := s.MovePorts(conf, FEPorts, offset)
			if err != nil {
				continue
			}
			for _, m := range moved {
				if v, _ := s.Value(out, m.Key); v != strconv.Itoa(m.To) {
					t.Fatalf("%s: %s = %q after moving to %d: %q", s, m.Key, v, m.To, out)
				}
			}
			// Every assignment stays, in order, with its value unless it
			// sets a port; the keys conf did not set come last. (A lone
			// backslash at the end of an FE conf sets the empty key, no
			// Doris key, and what is appended may end that.)
			keyed := func(ls []Line) []Line {
				var out []Line
				for _, l := range ls {
					if l.Key != "" {
						out = append(out, l)
					}
				}
				return out
			}
			before, after := keyed(s.Parse(conf)), keyed(s.Parse(out))
			if len(after) < len(before) || len(after) > len(before)+len(moved) {
				t.Fatalf("%s: %d assignments became %d: %q → %q", s, len(before), len(after), conf, out)
			}
			to := map[string]string{}
			for _, m := range moved {
				to[m.Key] = strconv.Itoa(m.To)
			}
			for i, a := range after {
				want := ""
				if i < len(before) {
					want = before[i].Value
					if a.Key != before[i].Key {
						t.Fatalf("%s: assignment %d is %q, was %q: %q → %q", s, i, a.Key, before[i].Key, conf, out)
					}
				}
				if v, ok := to[a.Key]; ok {
					want = v
				}
				if a.Value != want {
					t.Fatalf("%s: %s = %q, want %q: %q → %q", s, a.Key, a.Value, want, conf, out)
				}
			}
		}
	})
}

func readTestdataF(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
