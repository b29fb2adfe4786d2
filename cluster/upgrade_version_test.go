package cluster_test

import (
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		number  string
		line    string
		suffix  string
		wantErr string
	}{
		{in: "doris-2.1.5-rc02-d5a02e095d", number: "2.1.5", line: "2.1", suffix: "rc02-d5a02e095d"},
		{in: "doris-3.0.3", number: "3.0.3", line: "3.0"},
		{in: "doris-1.2.7.1", number: "1.2.7.1", line: "1.2"},
		{in: "selectdb-doris-2.1.6-b3", number: "2.1.6", line: "2.1", suffix: "b3"},
		{in: "massdb-sql-3.1.0", number: "3.1.0", line: "3.1"},
		{in: "2.0", number: "2.0.0", line: "2.0"},
		{in: " doris-2.0.4-rc06-003a815b63 ", number: "2.0.4", line: "2.0", suffix: "rc06-003a815b63"},
		{in: "", wantErr: "no version reported"},
		{in: "doris", wantErr: "unparsable Doris version"},
		{in: "doris-2.x.1", wantErr: "unparsable"},
		{in: "doris-2.1.5; DROP TABLE t", wantErr: "unparsable"},
		{in: strings.Repeat("9", 200), wantErr: "unparsable"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := cluster.ParseVersion(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseVersion(%q) = %v, %v; want an error with %q", tt.in, v, err, tt.wantErr)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error too long: %d bytes", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Number() != tt.number || v.Line() != tt.line || v.Suffix != tt.suffix || v.Raw != strings.TrimSpace(tt.in) {
				t.Errorf("ParseVersion(%q) = %s / %s / %q / %q", tt.in, v.Number(), v.Line(), v.Suffix, v.Raw)
			}
		})
	}
}

func TestUpgradePath(t *testing.T) {
	tests := []struct {
		from, to string
		refused  string // "" allowed
	}{
		{"doris-2.1.3", "doris-2.1.7", ""},
		{"doris-2.1.7", "doris-2.1.7-rc01-abc", ""},
		{"doris-2.0.15", "doris-2.1.0", ""},
		{"doris-2.1.8", "doris-3.0.3", ""},
		{"doris-3.0.3", "doris-3.1.0", ""},
		{"doris-3.0.3", "doris-3.2.0", "skips 3.1"},
		{"doris-3.0.3", "doris-3.3.0", "skips 3.1, 3.2"},
		{"doris-2.0.4", "doris-3.0.0", "skips 2.1"},
		{"doris-1.1.5", "doris-2.0.0", "skips 1.2"},
		{"doris-0.15.3", "doris-1.1.0", ""},
		{"doris-0.15.3", "doris-2.0.0", "skips 1.1, 1.2"},
		{"doris-3.1.2", "doris-4.0.0", ""},
		{"doris-3.1.2", "doris-4.1.0", "skips 4.0"},
		{"doris-3.1.2", "doris-5.0.0", "skips 4.x"},
		{"doris-2.1.7", "doris-2.1.5", "downgrade"},
		{"doris-3.0.1", "doris-2.1.9", "downgrade"},
	}
	for _, tt := range tests {
		t.Run(tt.from+" to "+tt.to, func(t *testing.T) {
			from, err := cluster.ParseVersion(tt.from)
			if err != nil {
				t.Fatal(err)
			}
			to, err := cluster.ParseVersion(tt.to)
			if err != nil {
				t.Fatal(err)
			}
			got := cluster.UpgradePath(from, to)
			switch {
			case tt.refused == "" && got != "":
				t.Errorf("refused: %s", got)
			case tt.refused != "" && !strings.Contains(got, tt.refused):
				t.Errorf("got %q, want a refusal with %q", got, tt.refused)
			}
		})
	}
}
