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

func TestResolveOptions(t *testing.T) {
	tests := []struct {
		name           string
		flagStop, flog string
		env            lookupEnv
		want           options
	}{
		{"defaults", "", "", env(), options{300 * time.Second, "json", "/opt/apache-doris", "/etc/podinfo", 10000}},
		{"env seconds", "", "", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "120", "DORIS_ROOT", "/d"), options{120 * time.Second, "json", "/d", "/etc/podinfo", 10000}},
		{"env duration", "", "", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "2m"), options{2 * time.Minute, "json", "/opt/apache-doris", "/etc/podinfo", 10000}},
		{"flag over env", "45s", "console", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "2m", "DORIS_ENTRYPOINT_LOG_FORMAT", "json"), options{45 * time.Second, "console", "/opt/apache-doris", "/etc/podinfo", 10000}},
		{"empty env ignored", "", "", env("DORIS_ENTRYPOINT_STOP_TIMEOUT", "", "DORIS_ROOT", ""), options{300 * time.Second, "json", "/opt/apache-doris", "/etc/podinfo", 10000}},
		{"debug env", "", "", env("DORIS_ENTRYPOINT_PODINFO_DIR", "/p", "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET", "100"), options{300 * time.Second, "json", "/opt/apache-doris", "/p", 100}},
	}
	for _, tt := range tests {
		got, err := resolveOptions(tt.flagStop, tt.flog, 300*time.Second, tt.env)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

// The README's environment table must name every variable the binary reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []envVar{envDorisRoot, envStopTimeout, envLogFormat, envPodinfoDir, envDebugOffset, envProbeAddr, envProbeInterval, envKube, envPodName, envPodNamespace,
		envFEQueryPort, envUser, envPasswd, envHostType, envPodFQDN, envPodIP, envElectNumber, envNewClusterWait, envMasterWait, envConfigMap,
		envKrb5Mount, envKrb5Config, envKeytabMount, envKeytabFinal, envWorkloadGroup, envConnectTimeout, envQueryTimeout} {
		if !strings.Contains(string(b), "| `"+v.name+"` |") {
			t.Errorf("README.md has no table row for %s", v.name)
		}
	}
}
