package confpatch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replaceLine returns conf with the first line equal to old replaced by new
// (no line when new is ""; appended when old is "").
func replaceLine(t *testing.T, conf []byte, old, new string) []byte {
	t.Helper()
	if old == "" {
		return append(append([]byte(nil), conf...), new+"\n"...)
	}
	lines := strings.SplitAfter(string(conf), "\n")
	for i, l := range lines {
		if strings.TrimSuffix(l, "\n") == old {
			if new == "" {
				lines[i] = ""
			} else {
				lines[i] = new + strings.TrimPrefix(l, old)
			}
			return []byte(strings.Join(lines, ""))
		}
	}
	t.Fatalf("no line %q", old)
	return nil
}

type lineEdit struct{ old, new string }

// A person's edit of the conf in debug mode is never thrown away: it stays
// in the conf, and only the lines debug mode moved are put back; when the
// edit touches those lines (or the conf was a ConfigMap link), the edited
// file is kept as a copy, the original comes back, and the result says
// where.
func TestRestoreKeepsEdits(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		orig  string // "": testdata/<file>
		edits []lineEdit
		kept  bool // the edit stays in the conf
		copy  bool // the edited conf is saved as a copy
	}{
		{"untouched", "fe.conf", "", nil, false, false},
		{"a line changed, one added, one removed", "fe.conf", "",
			[]lineEdit{{"sys_log_level = INFO", "sys_log_level = DEBUG"}, {"", "qe_max_connection = 2048"}, {"rpc_port = 9020", ""}}, true, false},
		{"the line after a moved one", "fe.conf", "", []lineEdit{{"rpc_port = 9020", "rpc_port = 9021"}}, true, false},
		{"an edit next to the appended lines", "fe.conf", "x = 1\nhttp_port = 8030\ny = 2\n",
			[]lineEdit{{"y = 2", "y = 3"}, {"x = 1", "x = 0"}}, true, false},
		{"be.conf with duplicates", "be.conf", "", []lineEdit{{"be_port = 9060", "be_port = 9061"}}, true, false},
		{"a moved line changed", "fe.conf", "", []lineEdit{{"query_port = 19030", "query_port = 19031"}}, false, true},
		{"a moved line removed", "fe.conf", "", []lineEdit{{"http_port = 18030", ""}}, false, true},
		{"the moved port set again", "fe.conf", "", []lineEdit{{"", "query_port = 19030"}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := []byte(tt.orig)
			if tt.orig == "" {
				orig = readTestdata(t, tt.file)
			}
			ports := FEPorts
			if tt.file == "be.conf" {
				ports = BEPorts
			}
			dir := t.TempDir()
			conf := filepath.Join(dir, tt.file)
			writeFile(t, conf, orig, 0o640)
			if _, err := Enter(conf, ports, 10000); err != nil {
				t.Fatal(err)
			}
			edited := mustRead(t, conf)
			want := orig
			for _, e := range tt.edits {
				edited = replaceLine(t, edited, e.old, e.new)
				if tt.kept {
					want = replaceLine(t, want, e.old, e.new)
				}
			}
			writeFile(t, conf, edited, 0o640)
			res, err := RestoreConf(conf)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, conf); !bytes.Equal(got, want) {
				t.Fatalf("conf after Restore:\n%s\nwant:\n%s", got, want)
			}
			if !res.Marker || res.Edited != (tt.kept || tt.copy) || res.Kept != tt.kept || (res.Copy != "") != tt.copy {
				t.Fatalf("Restored = %+v", res)
			}
			if tt.copy {
				if c := mustRead(t, res.Copy); !bytes.Equal(c, edited) || filepath.Dir(res.Copy) != dir {
					t.Fatalf("copy %s holds %q, want the edited conf", res.Copy, c)
				}
			}
			if msg := res.String(); (tt.kept || tt.copy) && !strings.Contains(msg, tt.file) || tt.copy && !strings.Contains(msg, res.Copy) {
				t.Errorf("message %q", msg)
			}
			if HasMarker(conf) {
				t.Error("marker left")
			}
		})
	}
}

// A conf linked into the ConfigMap was a writable copy in debug mode; an
// edit of it is kept as a copy when the link comes back. A conf deleted in
// debug mode gets its original back.
func TestRestoreEditedLinkOrDeleted(t *testing.T) {
	cm := t.TempDir()
	target := filepath.Join(cm, "fe.conf")
	writeFile(t, target, readTestdata(t, "fe.conf"), 0o444)
	conf := filepath.Join(t.TempDir(), "fe.conf")
	if err := os.Symlink(target, conf); err != nil {
		t.Fatal(err)
	}
	if _, err := Enter(conf, FEPorts, 10000); err != nil {
		t.Fatal(err)
	}
	edited := replaceLine(t, mustRead(t, conf), "sys_log_level = INFO", "sys_log_level = DEBUG")
	writeFile(t, conf, edited, 0o644)
	res, err := RestoreConf(conf)
	if err != nil || !res.Edited || res.Kept || res.Copy == "" {
		t.Fatalf("RestoreConf = %+v, %v", res, err)
	}
	if l, _ := os.Readlink(conf); l != target || !bytes.Equal(mustRead(t, res.Copy), edited) {
		t.Fatalf("link %q, copy %q", l, mustRead(t, res.Copy))
	}

	orig := readTestdata(t, "be.conf")
	conf = filepath.Join(t.TempDir(), "be.conf")
	writeFile(t, conf, orig, 0o644)
	if _, err := Enter(conf, BEPorts, 10000); err != nil {
		t.Fatal(err)
	}
	os.Remove(conf)
	res, err = RestoreConf(conf)
	if err != nil || !res.Edited || res.Kept || res.Copy != "" || !strings.Contains(res.String(), "deleted") {
		t.Fatalf("RestoreConf = %+v, %v", res, err)
	}
	if !bytes.Equal(mustRead(t, conf), orig) {
		t.Fatal("original not back")
	}
}

// A restore interrupted after it wrote the merged conf, before it removed
// the marker, is finished by the next one: the edit is not taken for a new
// one (no copy), and the report is the same.
func TestRestoreAfterCrashInMerge(t *testing.T) {
	orig := readTestdata(t, "fe.conf")
	conf := filepath.Join(t.TempDir(), "fe.conf")
	writeFile(t, conf, orig, 0o644)
	if _, err := Enter(conf, FEPorts, 10000); err != nil {
		t.Fatal(err)
	}
	writeFile(t, conf, replaceLine(t, mustRead(t, conf), "sys_log_level = INFO", "sys_log_level = WARN"), 0o644)
	st, err := ReadState(conf)
	if err != nil {
		t.Fatal(err)
	}
	first, err := restoreConf(conf, st) // the steps before the marker's removal
	if err != nil || !first.Kept || !HasMarker(conf) {
		t.Fatalf("restoreConf = %+v, %v", first, err)
	}
	merged := mustRead(t, conf)
	res, err := RestoreConf(conf)
	if err != nil || !res.Kept || res.Copy != "" || HasMarker(conf) {
		t.Fatalf("RestoreConf after the crash = %+v, %v", res, err)
	}
	if !bytes.Equal(mustRead(t, conf), merged) {
		t.Fatal("conf changed by the second restore")
	}
	if left, _ := filepath.Glob(conf + ".debug-edit-*"); len(left) != 0 {
		t.Fatalf("copies: %v", left)
	}
}

// Entering again over a conf someone edited while it was patched (a
// restore that has not run) would throw the edit away: Enter refuses.
func TestEnterRefusesEditedPatchedConf(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "fe.conf")
	writeFile(t, conf, readTestdata(t, "fe.conf"), 0o644)
	if _, err := Enter(conf, FEPorts, 10000); err != nil {
		t.Fatal(err)
	}
	edited := replaceLine(t, mustRead(t, conf), "sys_log_level = INFO", "sys_log_level = WARN")
	writeFile(t, conf, edited, 0o644)
	if _, err := Enter(conf, FEPorts, 10000); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Fatalf("Enter over an edit: %v", err)
	}
	if !bytes.Equal(mustRead(t, conf), edited) {
		t.Fatal("the edit was overwritten")
	}
}
