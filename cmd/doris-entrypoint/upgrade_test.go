package main

import (
	"bytes"
	"strings"
	"testing"
)

// `upgrade`'s command line: a subcommand is needed, flags only where they
// apply, an FE address from --fe or ENV_FE_ADDR; --help lists the
// variables it reads. None of these reach an FE.
func TestUpgradeCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  lookupEnv
		code int
		want string
	}{
		{name: "no subcommand", args: nil, code: exitUsage, want: "Usage: doris-entrypoint upgrade check|begin|status|end"},
		{name: "unknown subcommand", args: []string{"rollback"}, code: exitUsage, want: "Usage:"},
		{name: "help", args: []string{"check", "--help"}, code: 0, want: "ENV_FE_ADDR"},
		{name: "no fe", args: []string{"status"}, env: env("DORIS_ENTRYPOINT_KUBE", "off"), code: exitUsage, want: "set --fe or ENV_FE_ADDR"},
		{name: "bad fe", args: []string{"status", "--fe", "fe;drop"}, env: env("DORIS_ENTRYPOINT_KUBE", "off"), code: exitUsage, want: "invalid host name"},
		{name: "to on status", args: []string{"status", "--to", "doris-2.1.7"}, env: env("ENV_FE_ADDR", "127.0.0.1:1", "DORIS_ENTRYPOINT_KUBE", "off"),
			code: exitUsage, want: "--to is for check and begin"},
		{name: "force on check", args: []string{"check", "--force"}, env: env("ENV_FE_ADDR", "127.0.0.1:1", "DORIS_ENTRYPOINT_KUBE", "off"),
			code: exitUsage, want: "--force is for begin and end"},
		{name: "extra argument", args: []string{"end", "now"}, code: exitUsage, want: "Usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env == nil {
				tt.env = env()
			}
			var out, errOut bytes.Buffer
			code := run(append([]string{"doris-entrypoint", "upgrade"}, tt.args...), tt.env, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tt.code, tt.want, out.String(), errOut.String())
			}
		})
	}
}
