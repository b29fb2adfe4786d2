// Package bootstrap_test runs `doris-entrypoint fe` and `be` as PID 1 of a
// new PID namespace against fake FEs (test/fakedoris, real MySQL protocol)
// and checks what start_fe.sh is started with: the join of a first start,
// the new-cluster rule, metadata and the recovery annotation, and refusals.
package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

var entrypoint, helper string

func TestMain(m *testing.M) { harness.Main(m, &entrypoint, &helper) }

const wait = 30 * time.Second

const master = "fe-0.fe-internal.doris.svc.cluster.local"

// fakeCluster serves one fake FE; with a master unless noMaster.
func fakeCluster(t *testing.T, noMaster bool) (*fakedoris.Cluster, string) {
	t.Helper()
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: master, EditLogPort: 9010, QueryPort: 9030, HTTPPort: 8030, RPCPort: 9020,
		Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
	c.SetNoMaster(noMaster)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := fakedoris.ServeFE(ln, c, master)
	t.Cleanup(func() { fe.Close() })
	return c, ln.Addr().String()
}

// deadAddr is an address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type feRun struct {
	root string
	ev   *harness.Events
	p    *harness.Proc
}

// startFE runs `fe feAddrs` on a sandbox whose start_fe.sh reports its
// arguments; meta creates doris-meta/image/ROLE.
func startFE(t *testing.T, feAddrs, fqdn string, meta bool, annotations map[string]string, env ...string) *feRun {
	t.Helper()
	r := &feRun{root: t.TempDir(), ev: harness.NewEvents(t)}
	for _, d := range []string{"fe/bin", "fe/conf"} {
		if err := os.MkdirAll(filepath.Join(r.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s report \"$@\"\n", helper)
	if err := os.WriteFile(filepath.Join(r.root, "fe/bin/start_fe.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "meta_dir = ${DORIS_HOME}/meta\nedit_log_port = 9010\nquery_port = 9030\n"
	if err := os.WriteFile(filepath.Join(r.root, "fe/conf/fe.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if meta {
		if err := os.MkdirAll(filepath.Join(r.root, "fe/meta/image"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.root, "fe/meta/image/ROLE"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(r.root, "fe/meta/bdb"), 0o755)
		je := "2024-08-21 INFO [fe_1] Replica-feeder VLSN:15442\nnoise\n2024-08-21 INFO [fe_1] VLSN:15443 range\n"
		if err := os.WriteFile(filepath.Join(r.root, "fe/meta/bdb/je.info.0"), []byte(je), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	podinfoDir := filepath.Join(r.root, "podinfo")
	if err := podinfotest.Write(podinfoDir, annotations, nil); err != nil {
		t.Fatal(err)
	}
	r.p = harness.Start(t, harness.Options{
		Bin: entrypoint, Args: []string{"fe", feAddrs}, PID1: true,
		Env: append([]string{r.ev.Env(), "DORIS_ROOT=" + r.root, "DORIS_ENTRYPOINT_PODINFO_DIR=" + podinfoDir, "POD_FQDN=" + fqdn}, env...),
	})
	return r
}

// started waits for the fake start_fe.sh and returns its arguments.
func (r *feRun) started(t *testing.T) []string {
	t.Helper()
	line := r.ev.Wait(t, "report ", wait)
	var rep struct {
		Args []string `json:"args"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "report ")), &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Args[2:] // after the helper's path and "report"
}

func TestFirstStartJoins(t *testing.T) {
	for _, tt := range []struct {
		name, fqdn, role string
		env              []string
	}{
		{"follower below ELECT_NUMBER", "fe-1.fe-internal.doris.svc.cluster.local", "FOLLOWER", nil},
		{"observer from ELECT_NUMBER on", "fe-3.fe-internal.doris.svc.cluster.local", "OBSERVER", []string{"ELECT_NUMBER=3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, addr := fakeCluster(t, false)
			// The first address is dead: the next one is asked.
			r := startFE(t, deadAddr(t)+","+addr, tt.fqdn, false, nil, tt.env...)
			args := r.started(t)
			if want := "--console --helper " + master + ":9010"; strings.Join(args, " ") != want {
				t.Fatalf("start_fe.sh %q, want %q", args, want)
			}
			want := fmt.Sprintf(`ALTER SYSTEM ADD %s "%s:9010"`, tt.role, tt.fqdn)
			found := false
			for _, s := range c.Statements() {
				found = found || s == want
			}
			if !found {
				t.Fatalf("statements %q lack %q", c.Statements(), want)
			}
			if code := r.p.Wait(t, wait); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

// Ordinal 0 bootstraps a new cluster only when no FE answered at all.
func TestOrdinalZeroNewCluster(t *testing.T) {
	r := startFE(t, deadAddr(t), master, false, nil, "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT=300ms")
	if args := r.started(t); strings.Join(args, " ") != "--console" {
		t.Fatalf("start_fe.sh %q, want a new cluster (no --helper)", args)
	}
	r.p.WaitLog(t, "no FE answered at all: ordinal 0 bootstraps a new cluster", wait)
}

// An FE that answers without a master: ordinal 0 must not start a second
// cluster; it fails after the master wait instead.
func TestNoSplitBrain(t *testing.T) {
	_, addr := fakeCluster(t, true)
	r := startFE(t, addr, master, false, nil, "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT=100ms", "DORIS_ENTRYPOINT_MASTER_WAIT=600ms")
	if code := r.p.Wait(t, wait); code != 1 {
		t.Fatalf("exit %d, want 1; log:\n%s", code, r.p.Log())
	}
	if r.ev.Has("report ") {
		t.Fatal("start_fe.sh was started without a master")
	}
	if !strings.Contains(r.p.Log(), "not starting a second cluster") {
		t.Fatalf("no clear message; log:\n%s", r.p.Log())
	}
}

func TestMetadataAndRecovery(t *testing.T) {
	for _, tt := range []struct {
		name string
		ann  map[string]string
		want string
	}{
		{"metadata", nil, "--console"},
		{"recovery annotation", map[string]string{"selectdb.com.doris/recovery": ""}, "--console --metadata_failure_recovery"},
		{"recovery=false is absent", map[string]string{"selectdb.com.doris/recovery": "False"}, "--console"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// No FE reachable: with metadata none is needed.
			r := startFE(t, deadAddr(t), "fe-2.fe-internal.doris.svc.cluster.local", true, tt.ann)
			if args := r.started(t); strings.Join(args, " ") != tt.want {
				t.Fatalf("start_fe.sh %q, want %q", args, tt.want)
			}
		})
	}
}

// A hostile identity never reaches SQL: refused with the other variables,
// before anything starts (exit 2: invalid input).
func TestHostileFQDNRefused(t *testing.T) {
	c, addr := fakeCluster(t, false)
	r := startFE(t, addr, `x";DROP`, false, nil)
	if code := r.p.Wait(t, wait); code != 2 {
		t.Fatalf("exit %d, want 2; log:\n%s", code, r.p.Log())
	}
	for _, s := range c.Statements() {
		if strings.Contains(s, "DROP") {
			t.Fatalf("hostile name reached the FE: %q", s)
		}
	}
	if !strings.Contains(r.p.Log(), `POD_FQDN "x\";DROP": want an RFC 1123 host name`) {
		t.Fatalf("no clear message; log:\n%s", r.p.Log())
	}
}

// The ConfigMap's fe.conf is linked in (the old one kept as .bak), and
// enable_fqdn_mode = true is added to a writable copy: the mount is never
// written.
func TestConfigMapAndFQDNMode(t *testing.T) {
	cm := t.TempDir()
	cmConf := "meta_dir = ${DORIS_HOME}/meta\nquery_port = 9030\n"
	if err := os.WriteFile(filepath.Join(cm, "fe.conf"), []byte(cmConf), 0o444); err != nil {
		t.Fatal(err)
	}
	r := startFE(t, deadAddr(t), "fe-2.fe-internal.doris.svc.cluster.local", true, nil, "CONFIGMAP_MOUNT_PATH="+cm)
	if args := r.started(t); strings.Join(args, " ") != "--console" {
		t.Fatalf("start_fe.sh %q", args)
	}
	conf := filepath.Join(r.root, "fe/conf/fe.conf")
	fi, err := os.Lstat(conf)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("fe.conf is not a writable copy: %v", err)
	}
	if b, _ := os.ReadFile(conf); string(b) != cmConf+"enable_fqdn_mode = true\n" {
		t.Fatalf("fe.conf = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(cm, "fe.conf")); string(b) != cmConf {
		t.Fatal("the ConfigMap mount was written")
	}
	if _, err := os.Stat(conf + ".bak"); err != nil {
		t.Fatalf("no .bak of the image's fe.conf: %v", err)
	}
	r.p.WaitLog(t, "enable_fqdn_mode = true added to fe.conf", wait)
}

// With USER/PASSWD set, the joining FE creates the admin account once; the
// password appears in no log line.
func TestAdminAccountCreated(t *testing.T) {
	c, addr := fakeCluster(t, false)
	r := startFE(t, addr, "fe-1.fe-internal.doris.svc.cluster.local", false, nil, "USER=dorisadm", "PASSWD=Sup3r-Secret")
	r.started(t)
	r.p.WaitLog(t, "admin account created with NODE_PRIV", wait)
	r.p.Wait(t, wait)
	if strings.Contains(r.p.Log(), "Sup3r-Secret") {
		t.Fatal("the password reached the log")
	}
	n := 0
	for _, s := range c.Statements() {
		if strings.HasPrefix(s, "CREATE USER 'dorisadm'") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d CREATE USER statements", n)
	}
}

// Kerberos files are linked where KRB5_CONFIG and KEYTAB_FINAL_USED_PATH
// expect them; an FE with metadata logs its last BDB VLSN lines.
func TestKerberosAndVLSN(t *testing.T) {
	tmp := t.TempDir()
	for path, body := range map[string]string{"krb5/krb5.conf": "[libdefaults]\n", "keytab/doris.keytab": "k"} {
		os.MkdirAll(filepath.Join(tmp, filepath.Dir(path)), 0o755)
		if err := os.WriteFile(filepath.Join(tmp, path), []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	r := startFE(t, deadAddr(t), "fe-2.fe-internal.doris.svc.cluster.local", true, nil,
		"KRB5_MOUNT_PATH="+filepath.Join(tmp, "krb5"), "KRB5_CONFIG="+filepath.Join(tmp, "etc/krb5.conf"),
		"KEYTAB_MOUNT_PATH="+filepath.Join(tmp, "keytab"), "KEYTAB_FINAL_USED_PATH="+filepath.Join(tmp, "final"))
	r.started(t)
	if l, err := os.Readlink(filepath.Join(tmp, "etc/krb5.conf")); err != nil || l != filepath.Join(tmp, "krb5/krb5.conf") {
		t.Fatalf("krb5.conf link %q %v", l, err)
	}
	if l, err := os.Readlink(filepath.Join(tmp, "final/doris.keytab")); err != nil || l != filepath.Join(tmp, "keytab/doris.keytab") {
		t.Fatalf("keytab link %q %v", l, err)
	}
	if got := r.p.Find("bdb journal"); len(got) != 2 || !strings.Contains(got[1]["vlsn"].(string), "je.info.0:3:") {
		t.Fatalf("VLSN lines %v", got)
	}
}

// Root refused (it has a password): the join goes on with the admin account
// from USER/PASSWD, and the password is in no log line.
func TestWrongPasswordThenAdmin(t *testing.T) {
	c, addr := fakeCluster(t, false)
	c.SetPassword("root", "root-Secret-1")
	c.SetPassword("dorisadm", "adm-Secret-2")
	r := startFE(t, addr, "fe-1.fe-internal.doris.svc.cluster.local", false, nil, "USER=dorisadm", "PASSWD=adm-Secret-2")
	if args := r.started(t); !strings.Contains(strings.Join(args, " "), "--helper "+master+":9010") {
		t.Fatalf("start_fe.sh %q", args)
	}
	r.p.Wait(t, wait)
	if strings.Contains(r.p.Log(), "Secret") {
		t.Fatal("a password reached the log")
	}
}
