package confpatch

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestMarkerRecordsOffset: Enter records the offset it moved by, negative
// ones too, and a restore (an edit merged back) uses it; a marker of an
// older binary, without the line, still reads, with the offset of its
// moves.
func TestMarkerRecordsOffset(t *testing.T) {
	ports := []Port{{Key: "query_port", Default: 9030}, {Key: "http_port", Default: 8030}}
	tests := []struct {
		name   string
		offset int
	}{
		{"upward", 10000},
		{"downward", -1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "fe.conf")
			orig := []byte("http_port = 8031\nquery_port = 9030\n")
			writeFile(t, conf, orig, 0o644)
			if _, err := Enter(conf, ports, tt.offset); err != nil {
				t.Fatal(err)
			}
			st, err := ReadState(conf)
			if err != nil || st.Offset != tt.offset {
				t.Fatalf("marker offset %d, %v; want %d", st.Offset, err, tt.offset)
			}
			if raw := mustRead(t, Marker(conf)); !bytes.Contains(raw, []byte("\noffset: ")) {
				t.Fatalf("marker has no offset line:\n%s", raw)
			}
			// An edit in debug mode: merged back with the marker's offset.
			edited := append(mustRead(t, conf), "# an edit in debug mode\n"...)
			writeFile(t, conf, edited, 0o644)
			r, err := RestoreConf(conf)
			if err != nil || !r.Kept {
				t.Fatalf("RestoreConf = %+v, %v; want the edit kept", r, err)
			}
			if want := string(orig) + "# an edit in debug mode\n"; string(mustRead(t, conf)) != want {
				t.Fatalf("restored %q, want %q", mustRead(t, conf), want)
			}
		})
	}
	t.Run("older marker", func(t *testing.T) {
		old := "doris-entrypoint debug marker v1\nmode: 0644\nmoved: query_port 9030 8030\n--\nq = 1\n"
		st, err := decodeState([]byte(old))
		if err != nil || st.Offset != -1000 {
			t.Fatalf("older marker: offset %d, %v; want -1000 from its moves", st.Offset, err)
		}
		if _, err := decodeState([]byte(strings.Replace(old, "--\n", "offset: x\n--\n", 1))); err == nil {
			t.Fatal("a bad offset line decoded")
		}
	})
}
