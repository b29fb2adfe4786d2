package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminCredentials(t *testing.T) {
	write := func(t *testing.T, dir string, kv ...string) {
		t.Helper()
		for i := 0; i+1 < len(kv); i += 2 {
			if err := os.WriteFile(filepath.Join(dir, kv[i]), []byte(kv[i+1]), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name, user, password string
		files                []string
		want                 Credentials
	}{
		{"defaults", "", "", nil, Credentials{User: "root"}},
		{"USER and PASSWD", "adm", "pw", nil, Credentials{"adm", "pw"}},
		{"secret overrides, one newline trimmed", "adm", "pw", []string{"username", "sec\n", "password", "s3cret\n\n"}, Credentials{"sec", "s3cret\n"}},
		{"secret without password keeps PASSWD", "adm", "pw", []string{"username", "sec"}, Credentials{"sec", "pw"}},
		{"password file alone is ignored", "adm", "pw", []string{"password", "other"}, Credentials{"adm", "pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files...)
			if got := AdminCredentials(tt.user, tt.password, dir); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMetaDir(t *testing.T) {
	for _, tt := range []struct{ conf, want string }{
		{"", "/d/fe/doris-meta"},
		{"meta_dir = ${DORIS_HOME}/meta\n", "/d/fe/meta"},
		{`meta_dir = "$DORIS_HOME/m"` + "\n", "/d/fe/m"},
		{"meta_dir = /data/meta\n", "/data/meta"},
	} {
		if got := MetaDir("/d/fe", []byte(tt.conf)); got != tt.want {
			t.Errorf("MetaDir(%q) = %q, want %q", tt.conf, got, tt.want)
		}
	}
}

// The identity rule of each row: FE by FQDN unless fe.conf says
// enable_fqdn_mode = false, BE by FQDN unless HOST_TYPE=IP.
func TestNodeHost(t *testing.T) {
	host, _ := os.Hostname()
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("10.1.2.3\t"+host+".x.svc.cluster.local "+host+"\n"), 0o644)
	tests := []struct {
		name   string
		c      Component
		conf   string
		ipMode bool
		podIP  string
		want   string
	}{
		{"fe fqdn", FE, "", false, "", host + ".x.svc.cluster.local"},
		{"fe ip by conf", FE, "enable_fqdn_mode = false\n", false, "", "10.1.2.3"},
		{"fe ip by conf, POD_IP", FE, "enable_fqdn_mode=FALSE\n", false, "10.9.9.9", "10.9.9.9"},
		{"fe ignores HOST_TYPE", FE, "", true, "10.9.9.9", host + ".x.svc.cluster.local"},
		{"be fqdn", BE, "enable_fqdn_mode = false\n", false, "", host + ".x.svc.cluster.local"},
		{"be HOST_TYPE=IP", BE, "", true, "10.9.9.9", "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			conf := filepath.Join(root, tt.c.Conf)
			os.MkdirAll(filepath.Dir(conf), 0o755)
			os.WriteFile(conf, []byte(tt.conf), 0o644)
			n := &Node{Component: tt.c, Root: root, HostsFile: hosts, IPMode: tt.ipMode, PodIP: tt.podIP}
			if got, err := n.Host(); err != nil || got != tt.want {
				t.Fatalf("Host() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseFEAddrs(t *testing.T) {
	if got, err := FE.ParseFEAddrs("", 9030); got != nil || err != nil {
		t.Errorf("FE without FE_ADDRS: %q, %v; want none", got, err)
	}
	if _, err := BE.ParseFEAddrs(" , ", 9030); err == nil || !strings.Contains(err.Error(), "FE_ADDRS is empty") {
		t.Errorf("BE without FE_ADDRS: %v", err)
	}
	if _, err := FE.ParseFEAddrs(`fe";DROP`, 9030); err == nil {
		t.Error("a hostile FE address accepted")
	}
	if got, err := BE.ParseFEAddrs("fe-svc", 19030); err != nil || len(got) != 1 || got[0] != "fe-svc:19030" {
		t.Errorf("BE: %q, %v", got, err)
	}
}

// The table is the one place the components differ: every row is complete.
func TestComponentsTable(t *testing.T) {
	for name, c := range Components {
		if c.Name != name || c.Script == "" || c.Conf == "" || c.PIDFile == "" || c.Liveness.Key == "" ||
			c.Grace <= 0 || c.ipMode == nil || c.bootstrap == nil || c.member == nil || c.Entrypoint == "" || c.Prestop == "" {
			t.Errorf("row %q incomplete: %+v", name, c)
		}
		// An HTTP port comes with its /api/health judge (the broker has neither).
		if (c.HTTP.Key == "") != (c.HealthBody == nil) {
			t.Errorf("row %q: HTTP port %q without a health judge, or the reverse", name, c.HTTP.Key)
		}
		if ports := c.DebugPorts(); ports[0] != c.Liveness {
			t.Errorf("row %q: debug ports %v do not start with the liveness port", name, ports)
		}
	}
}
