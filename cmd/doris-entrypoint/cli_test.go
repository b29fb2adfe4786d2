package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) lookupEnv {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Usage errors exit 2 with the reason on stderr; help and version exit 0 on
// stdout. None of these start a child.
func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        lookupEnv
		code       int
		wantOut    []string
		wantStderr []string
	}{
		{"no command", []string{"doris-entrypoint"}, env(), 2, nil, []string{"Usage:"}},
		{"unknown command", []string{"doris-entrypoint", "frontend"}, env(), 2, nil, []string{`unknown command "frontend"`, "Usage:"}},
		{"help", []string{"doris-entrypoint", "--help"}, env(), 0, []string{"supervise"}, nil},
		{"version", []string{"doris-entrypoint", "version"}, env(), 0, []string{"doris-entrypoint dev (commit unknown, go"}, nil},
		{"fe help lists env", []string{"doris-entrypoint", "fe", "--help"}, env(), 0,
			[]string{"-stop-timeout", "-doris-root", "DORIS_ROOT", "DORIS_ENTRYPOINT_STOP_TIMEOUT", "DORIS_ENTRYPOINT_LOG_FORMAT"}, nil},
		{"supervise help", []string{"doris-entrypoint", "supervise", "-h"}, env(), 0, []string{"DORIS_ENTRYPOINT_STOP_TIMEOUT (default 30s)"}, nil},
		{"bad flag", []string{"doris-entrypoint", "be", "--bogus"}, env(), 2, nil, []string{"flag provided but not defined: -bogus", "Usage:"}},
		{"two addresses", []string{"doris-entrypoint", "fe", "a:9030", "b:9030"}, env(), 2, nil, []string{"at most one argument"}},
		{"supervise without command", []string{"doris-entrypoint", "supervise", "--"}, env(), 2, nil, []string{"missing command"}},
		{"bad stop timeout env", []string{"doris-entrypoint", "supervise", "true"}, env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "soon"), 2, nil, []string{"DORIS_ENTRYPOINT_STOP_TIMEOUT", `"soon"`}},
		{"bad stop timeout flag", []string{"doris-entrypoint", "fe", "--stop-timeout", "0"}, env(), 2, nil, []string{"--stop-timeout"}},
		{"bad log format", []string{"doris-entrypoint", "be"}, env("DORIS_ENTRYPOINT_LOG_FORMAT", "xml"), 2, nil, []string{`log format "xml"`}},
		{"bad debug offset", []string{"doris-entrypoint", "fe"}, env("DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", "lots"), 2, nil, []string{`DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET "lots"`}},
		{"argv0 fe_entrypoint.sh", []string{"/opt/apache-doris/fe_entrypoint.sh", "--bogus"}, env(), 2, nil, []string{"Usage: doris-entrypoint fe"}},
		{"argv0 be_entrypoint.sh", []string{"/opt/apache-doris/be_entrypoint.sh", "-h"}, env(), 0, []string{"Usage: doris-entrypoint be"}, nil},
		{"prestop without a supervisor", []string{"/opt/apache-doris/fe_prestop.sh"}, env("DORIS_ROOT", "/nonexistent"), 1, nil, []string{"control socket"}},
		{"prestop bad argument", []string{"doris-entrypoint", "prestop", "now"}, env(), 2, nil, []string{"Usage: doris-entrypoint prestop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, tt.env, &out, &errb)
			if code != tt.code {
				t.Fatalf("code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	def := Settings{DorisRoot: "/opt/apache-doris", StopTimeout: 300 * time.Second, LogFormat: "json", PodinfoDir: "/etc/podinfo",
		DebugOffset: 10000, ProbeAddr: ":8099", ProbeInterval: 5 * time.Second, Kube: "auto", ConnectTimeout: 2 * time.Second,
		QueryTimeout: 15 * time.Second, FEQueryPort: 9030, User: "root", ConfigMapPath: "/etc/doris", Krb5Config: "/etc/krb5.conf",
		ElectNumber: 3, NewClusterWait: 60 * time.Second, MasterWait: 180 * time.Second, UpgradeWait: 240 * time.Second}
	with := func(f func(*Settings)) Settings { s := def; f(&s); return s }
	tests := []struct {
		name string
		env  lookupEnv
		want Settings
	}{
		{"defaults", env(), def},
		{"env seconds", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "120", "DORIS_ROOT", "/d"), with(func(s *Settings) { s.StopTimeout, s.DorisRoot = 120*time.Second, "/d" })},
		{"env duration", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "2m"), with(func(s *Settings) { s.StopTimeout = 2 * time.Minute })},
		{"empty env ignored", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "", "DORIS_ROOT", ""), def},
		{"debug env", env("DORIS_ENTRYPOINT_PODINFO_DIR", "/p", "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", "100"), with(func(s *Settings) { s.PodinfoDir, s.DebugOffset = "/p", 100 })},
		{"empty probe address disables", env("DORIS_ENTRYPOINT_PROBE_ADDR", ""), with(func(s *Settings) { s.ProbeAddr = "" })},
		{"upgrade wait 0 disables it", env("DORIS_ENTRYPOINT_UPGRADE_WAIT", "0"), with(func(s *Settings) { s.UpgradeWait = 0 })},
		{"operator", env("USER", "adm", "PASSWD", "pw", "POD_FQDN", "fe-0.x", "ELECT_NUMBER", "5", "FE_QUERY_PORT", "19030"),
			with(func(s *Settings) {
				s.User, s.Password, s.PodFQDN, s.ElectNumber, s.FEQueryPort = "adm", "pw", "fe-0.x", 5, 19030
			})},
	}
	for _, tt := range tests {
		got, err := loadSettings(inFE, 300*time.Second, tt.env, nil)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

// Every invalid value fails the same way: exit 2 and one line naming the
// variable, before anything starts.
func TestInvalidValuesExitUsage(t *testing.T) {
	for _, tt := range []struct{ cmd, name, value string }{
		{"fe", "DORIS_ENTRYPOINT_PROBE_INTERVAL", "abc"},
		{"fe", "DORIS_ENTRYPOINT_CONNECT_TIMEOUT", "-1s"},
		{"be", "DORIS_ENTRYPOINT_QUERY_TIMEOUT", "0"},
		{"fe", "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT", "soon"},
		{"fe", "DORIS_ENTRYPOINT_MASTER_WAIT", "1x"},
		{"fe", "FE_QUERY_PORT", "70000"},
		{"fe", "ELECT_NUMBER", "many"},
		{"be", "HOST_TYPE", "hostname"},
		{"be", "ENABLE_WORKLOAD_GROUP", "yes"},
		{"fe", "DORIS_ENTRYPOINT_KUBE", "maybe"},
		{"be", "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", "0"},
		// An offset that collides is no usage error any more: debug mode
		// picks another at entry (supervisor/modes offset.go, issue 23).
		{"supervise", "DORIS_ENTRYPOINT_STOP_TIMEOUT", "soon"},
		// Checked with the others, before the launch (issue 23).
		{"fe", "POD_FQDN", "fe_0.fe-internal"},
		{"be", "POD_IP", "10.0.0.256"},
		{"fe", "DORIS_ENTRYPOINT_DORIS_VERSION", "garbage"},
		{"be", "USER", "ro'ot"},
		{"broker", "USER", "admin"},
		{"fe", "DORIS_ENTRYPOINT_UPGRADE_WAIT", "-1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := []string{"doris-entrypoint", tt.cmd, "fe-0:9030"}
			if tt.cmd == "supervise" {
				args = []string{"doris-entrypoint", "supervise", "true"}
			}
			code := run(args, env(tt.name, tt.value, "DORIS_ROOT", t.TempDir(), "PASSWD", "pw-s3cret"), &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], tt.name) || !strings.Contains(lines[0], tt.value) {
				t.Fatalf("code %d, stderr %q; want 2 and one line naming %s", code, errb.String(), tt.name)
			}
			if strings.Contains(errb.String()+out.String(), "pw-s3cret") {
				t.Fatalf("the password reached the output: %s", errb.String())
			}
			if strings.Contains(errb.String(), "stop timeout") && tt.name != "DORIS_ENTRYPOINT_STOP_TIMEOUT" {
				t.Fatalf("reported as a stop timeout: %s", errb.String())
			}
		})
	}
}

// The README's environment table and --help come from one list: every
// variable has a README row whose default is the declared one, and the
// README has no row for a variable the binary does not read.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	sec := readme[strings.Index(readme, "## Environment"):]
	sec = sec[:strings.Index(sec[3:], "\n## ")+3]
	rows := map[string]string{} // name -> default cell
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	known := map[string]bool{}
	for _, v := range variables {
		known[v.name] = true
		cell, ok := rows[v.name]
		switch {
		case !ok:
			t.Errorf("README.md has no row for %s", v.name)
		case v.def != "" && !strings.Contains(cell, "`"+v.def+"`"):
			t.Errorf("README.md: %s default %q, declared %q", v.name, cell, v.def)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README.md has a row for %s, which the binary does not read", name)
		}
	}
}

// --help lists a command's variables with its own defaults.
func TestHelpListsVariables(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"doris-entrypoint", "be", "--help"}, env(), &out, &out); code != 0 {
		t.Fatalf("code %d", code)
	}
	for _, v := range varsOf(inBE) {
		if !strings.Contains(out.String(), v.name) {
			t.Errorf("be --help lacks %s", v.name)
		}
	}
	for _, w := range []string{"DORIS_ENTRYPOINT_STOP_TIMEOUT (default 180s)", "HOST_TYPE (default FQDN)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("be --help lacks %q", w)
		}
	}
	if strings.Contains(out.String(), "ELECT_NUMBER") {
		t.Error("be --help lists the FE's ELECT_NUMBER")
	}
}
