package confpatch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Prepare does the scripts' steps in their order: Kerberos, the ConfigMap,
// the keys the component needs, the workload group; only a workload-group
// failure is ErrWorkloadGroup.
func TestPrepare(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, p *Prepare)
		wantConf  string // "" = no check
		wantErrIs error
		wantErr   string
	}{
		{name: "fe: enable_fqdn_mode appended to the ConfigMap's conf, copied out of the read-only mount",
			setup: func(t *testing.T, p *Prepare) {
				writeFile(t, filepath.Join(p.ConfigMapDir, "fe.conf"), []byte("query_port = 9030\n"), 0o444)
				p.Ensure = map[string]string{"enable_fqdn_mode": "true"}
			},
			wantConf: "query_port = 9030\nenable_fqdn_mode = true\n"},
		{name: "fe: a conf that sets the key keeps it",
			setup: func(t *testing.T, p *Prepare) {
				writeFile(t, filepath.Join(p.ConfDir, "fe.conf"), []byte("enable_fqdn_mode = false\n"), 0o644)
				p.Ensure = map[string]string{"enable_fqdn_mode": "true"}
			},
			wantConf: "enable_fqdn_mode = false\n"},
		{name: "no conf at all: nothing to ensure, no error",
			setup: func(t *testing.T, p *Prepare) { p.Ensure = map[string]string{"enable_fqdn_mode": "true"} }},
		{name: "be: the ConfigMap's be.conf copied, nothing ensured",
			setup: func(t *testing.T, p *Prepare) {
				p.Conf, p.Copies = "be.conf", []string{"be.conf"}
				writeFile(t, filepath.Join(p.ConfigMapDir, "be.conf"), []byte("be_port = 9060\n"), 0o444)
			},
			wantConf: "be_port = 9060\n"},
		{name: "be: workload group without cgroups is fatal",
			setup: func(t *testing.T, p *Prepare) {
				p.Conf, p.WorkloadGroup = "be.conf", true
				p.CgroupRoot, p.Filesystems = t.TempDir(), filepath.Join(t.TempDir(), "filesystems")
				writeFile(t, p.Filesystems, []byte("nodev\tproc\n"), 0o644)
			},
			wantErrIs: ErrWorkloadGroup},
		{name: "be: workload group prepared and doris_cgroup_cpu_path set",
			setup: func(t *testing.T, p *Prepare) {
				p.Conf, p.WorkloadGroup = "be.conf", true
				p.CgroupRoot, p.Filesystems = t.TempDir(), filepath.Join(t.TempDir(), "filesystems")
				writeFile(t, p.Filesystems, []byte("nodev\tcgroup\n"), 0o644)
				writeFile(t, filepath.Join(p.ConfDir, "be.conf"), []byte("be_port = 9060\n"), 0o644)
			},
			wantConf: "be_port = 9060\ndoris_cgroup_cpu_path = "},
		{name: "kerberos: a missing mount is an error, and not fatal",
			setup: func(t *testing.T, p *Prepare) {
				p.Krb5Mount, p.Krb5Config = filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "krb5.conf")
			},
			wantErr: "kerberos config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Prepare{ConfDir: t.TempDir(), Conf: "fe.conf", ConfigMapDir: t.TempDir()}
			tt.setup(t, &p)
			err := p.Run()
			switch {
			case tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs):
				t.Fatalf("err %v, want %v", err, tt.wantErrIs)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrWorkloadGroup)):
				t.Fatalf("err %v, want %q (not fatal)", err, tt.wantErr)
			case tt.wantErrIs == nil && tt.wantErr == "" && err != nil:
				t.Fatal(err)
			}
			if tt.wantConf != "" {
				b, _ := os.ReadFile(filepath.Join(p.ConfDir, p.Conf))
				if !strings.HasPrefix(string(b), tt.wantConf) {
					t.Fatalf("conf %q, want %q", b, tt.wantConf)
				}
			}
		})
	}
}

// Kerberos: the files go next to KRB5_CONFIG, the keytabs to their final
// path when it differs.
func TestPrepareKerberos(t *testing.T) {
	krb, keytabs, final, etc := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(krb, "krb5.conf"), []byte("[libdefaults]\n"), 0o444)
	writeFile(t, filepath.Join(keytabs, "doris.keytab"), []byte("k"), 0o400)
	p := Prepare{ConfDir: t.TempDir(), Conf: "fe.conf", ConfigMapDir: t.TempDir(),
		Krb5Mount: krb, Krb5Config: filepath.Join(etc, "krb5.conf"), KeytabMount: keytabs, KeytabFinal: final}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{filepath.Join(etc, "krb5.conf"), filepath.Join(final, "doris.keytab")} {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("%s not linked: %v", l, err)
		}
	}
}
