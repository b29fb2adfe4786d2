package fakedoris

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
)

// The stand-in's version files are what cluster's own detection reads
// (Version.class in fe/lib/doris-fe.jar, be/lib/doris_be --version), and
// @@version_comment round-trips to the Version column.
func TestVersionFiles(t *testing.T) {
	for _, tt := range []struct{ version, be string }{
		{DefaultVersion, "doris-2.1.5-rc02"},
		{"doris-2.1.6-rc01-0123456789", "doris-2.1.6-rc01"},
		{"doris-3.0.3", "doris-3.0.3"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			if got := versionFromComment(versionComment(tt.version)); got != tt.version {
				t.Errorf("version_comment %q → %q", versionComment(tt.version), got)
			}
			fe := t.TempDir()
			if err := WriteFEJar(filepath.Join(fe, "fe", "lib", "doris-fe.jar"), tt.version); err != nil {
				t.Fatal(err)
			}
			o := &cluster.UpgradeOrder{Node: &cluster.Node{Component: cluster.FE, Root: fe}}
			if v, err := o.OwnVersion(); err != nil || v.Raw != tt.version {
				t.Errorf("FE jar: %q %v, want %q", v.Raw, err, tt.version)
			}
			be := t.TempDir()
			bin := filepath.Join(be, "be", "lib", "doris_be")
			os.MkdirAll(filepath.Dir(bin), 0o755)
			if err := os.WriteFile(bin, []byte("#!/bin/sh\necho '"+BEVersionLine(tt.version)+"'\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := exec.LookPath("sh"); err != nil {
				t.Skip("no sh")
			}
			o = &cluster.UpgradeOrder{Node: &cluster.Node{Component: cluster.BE, Root: be}}
			if v, err := o.OwnVersion(); err != nil || v.Raw != tt.be {
				t.Errorf("doris_be: %q %v, want %q", v.Raw, err, tt.be)
			}
		})
	}
}
