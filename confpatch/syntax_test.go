package confpatch

import (
	"path/filepath"
	"strings"
	"testing"
)

// The FE reads fe.conf with java.util.Properties (ConfigBase.initConf), the
// BE be.conf with its own reader (configbase.cpp Properties::load): the same
// lines mean different things to the two.
func TestPortValueBySyntax(t *testing.T) {
	fe, be := Port{"query_port", 9030}, Port{"heartbeat_service_port", 9050}
	tests := []struct {
		name   string
		syntax Syntax
		port   Port
		conf   string
		want   int // 0: an error
	}{
		{"fe colon", FESyntax, fe, "query_port: 9031\n", 9031},
		{"fe colon no blank", FESyntax, fe, "query_port:9031\n", 9031},
		{"fe blank only", FESyntax, fe, "query_port 9031\n", 9031},
		{"fe tab and form feed", FESyntax, fe, "\fquery_port\t=\t9031\n", 9031},
		{"fe blanks then colon", FESyntax, fe, "query_port   :   9031\n", 9031},
		{"fe continuation", FESyntax, fe, "query_port = 90\\\n      31\n", 9031},
		{"fe continuation CRLF", FESyntax, fe, "query_port = \\\r\n  9031\r\n", 9031},
		{"fe bare CR ends a line", FESyntax, fe, "query_port = 9031\rhttp_port = 1\r", 9031},
		{"fe escaped key", FESyntax, fe, "query\\u005fport = 9031\n", 9031},
		{"fe escaped value", FESyntax, fe, "query_port = 9\\031\n", 9031},
		{"fe bang comment", FESyntax, fe, "query_port = 9031\n! query_port = 1\n", 9031},
		{"fe comment does not continue", FESyntax, fe, "# a \\\nquery_port = 9031\n", 9031},
		{"fe continued line is not a comment", FESyntax, fe, "query_port = 9031\nx = \\\n# query_port = 1\n", 9031},
		{"fe escaped separator is in the key", FESyntax, fe, "query_port\\=x = 1\nquery_port = 9031\n", 9031},
		{"fe empty value is the default", FESyntax, fe, "query_port = 9031\nquery_port =\n", 9030},
		{"fe later wins", FESyntax, fe, "query_port: 9031\nquery_port 9032\n", 9032},
		{"fe trailing comment is in the value", FESyntax, fe, "query_port = 9031 # x\n", 0},
		{"fe malformed unicode escape", FESyntax, fe, "query_port = \\u90\n", 0},
		{"be colon is not a separator", BESyntax, be, "heartbeat_service_port: 9051\n", 9050},
		{"be blank is not a separator", BESyntax, be, "heartbeat_service_port 9051\n", 9050},
		{"be equals", BESyntax, be, "\vheartbeat_service_port\t= 9051 \r\n", 9051},
		{"be no continuation", BESyntax, be, "x = 1\\\nheartbeat_service_port = 9051\n", 9051},
		{"be bang is no comment", BESyntax, be, "!heartbeat_service_port = 1\nheartbeat_service_port = 9051\n", 9051},
		{"be key alone is empty", BESyntax, be, "heartbeat_service_port\n", 0},
		{"be empty value", BESyntax, be, "heartbeat_service_port =\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.syntax.PortValue([]byte(tt.conf), tt.port)
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("PortValue = %d, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PortValue = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// Enter moves the port the FE really listens on, whatever separator fe.conf
// uses, and changes only that value.
func TestEnterJavaPropertiesSyntax(t *testing.T) {
	tests := []struct {
		conf, want string
		from       int
	}{
		{"query_port: 9031\nhttp_port 8031\n", "query_port: 19031\nhttp_port 18031\n", 9031},
		{"query_port = 90\\\n   31\nhttp_port=8030\n", "query_port = 19031\nhttp_port=18030\n", 9031},
		{"query_port\nhttp_port:8030", "query_port = 19030\nhttp_port:18030", 9030},
		{"http_port=8030\nx = 1\\", "http_port=18030\nx = 1\\\n\n# added by doris-entrypoint for debug mode; the original conf is restored on leaving\nquery_port = 19030\n", 9030},
	}
	for _, tt := range tests {
		conf := filepath.Join(t.TempDir(), "fe.conf")
		writeFile(t, conf, []byte(tt.conf), 0o644)
		moved, err := Enter(conf, FEPorts, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(mustRead(t, conf)); got != tt.want || moved[0].From != tt.from {
			t.Errorf("%q: moved %+v, conf %q; want from %d, %q", tt.conf, moved, got, tt.from, tt.want)
		}
		if v, _ := FESyntax.Value([]byte(tt.conf+"\n"), "x"); v == "1" {
			if v2, _ := FESyntax.Value(mustRead(t, conf), "x"); v2 != "1" {
				t.Errorf("%q: x = %q after Enter", tt.conf, v2)
			}
		}
	}
}

func TestSyntaxOf(t *testing.T) {
	for path, want := range map[string]Syntax{
		"/opt/apache-doris/fe/conf/fe.conf": FESyntax, "fe_custom.conf": FESyntax, "ldap.conf": FESyntax,
		"/opt/apache-doris/be/conf/be.conf": BESyntax, "be_custom.conf": BESyntax,
	} {
		if got := SyntaxOf(path); got != want {
			t.Errorf("SyntaxOf(%s) = %v", path, got)
		}
	}
	if !strings.Contains(FESyntax.String(), "Properties") {
		t.Errorf("FESyntax = %s", FESyntax)
	}
}
