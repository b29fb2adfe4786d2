package confpatch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLinkConfigMap(t *testing.T) {
	cm, conf := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(cm, "be.conf"), []byte("be_port = 9060\n"), 0o444)
	writeFile(t, filepath.Join(cm, "odbcinst.ini"), []byte("[x]\n"), 0o444)
	os.Mkdir(filepath.Join(cm, "..2026_11_26"), 0o755)
	os.Symlink("..2026_11_26", filepath.Join(cm, "..data"))
	writeFile(t, filepath.Join(conf, "be.conf"), []byte("image default\n"), 0o644)
	got, err := LinkConfigMap(cm, conf, map[string]bool{"be.conf": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Copied || got[0].Backup == "" || got[1].Copied {
		t.Fatalf("got %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(conf, "be.conf.bak")); string(b) != "image default\n" {
		t.Fatalf("backup %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(conf, "be.conf")); !fi.Mode().IsRegular() {
		t.Fatal("be.conf must be a writable copy")
	}
	if l, _ := os.Readlink(filepath.Join(conf, "odbcinst.ini")); l != filepath.Join(cm, "odbcinst.ini") {
		t.Fatalf("odbcinst.ini link %q", l)
	}
	if got, err := LinkConfigMap(filepath.Join(cm, "missing"), conf, nil); got != nil || err != nil {
		t.Fatalf("missing dir: %v %v", got, err)
	}
}

func TestEnsureValue(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "fe.conf")
	writeFile(t, conf, []byte("query_port = 9030"), 0o600)
	if app, cp, err := EnsureValue(conf, "enable_fqdn_mode", "true"); !app || cp || err != nil {
		t.Fatalf("%v %v %v", app, cp, err)
	}
	if b := mustRead(t, conf); string(b) != "query_port = 9030\nenable_fqdn_mode = true\n" {
		t.Fatalf("conf %q", b)
	}
	// Set already (even to false): nothing to do.
	writeFile(t, conf, []byte("enable_fqdn_mode = false\n"), 0o600)
	if app, _, _ := EnsureValue(conf, "enable_fqdn_mode", "true"); app {
		t.Fatal("overrode an explicit value")
	}
	// A link into a read-only mount becomes a copy; the mount is untouched.
	cm := t.TempDir()
	target := filepath.Join(cm, "fe.conf")
	writeFile(t, target, []byte("query_port = 9030\n"), 0o444)
	os.Chmod(cm, 0o555)
	t.Cleanup(func() { os.Chmod(cm, 0o755) })
	os.Remove(conf)
	os.Symlink(target, conf)
	if app, cp, err := EnsureValue(conf, "enable_fqdn_mode", "true"); !app || !cp || err != nil {
		t.Fatalf("%v %v %v", app, cp, err)
	}
	if b := mustRead(t, target); string(b) != "query_port = 9030\n" {
		t.Fatal("wrote into the ConfigMap")
	}
}

func TestLinkFiles(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "etc", "krb")
	writeFile(t, filepath.Join(src, "krb5.conf"), []byte("[libdefaults]\n"), 0o444)
	os.Symlink("..x", filepath.Join(src, "..data"))
	got, err := LinkFiles(src, dst)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "krb5.conf")); l != filepath.Join(src, "krb5.conf") {
		t.Fatalf("link %q", l)
	}
	if _, err := LinkFiles(src, dst); err != nil { // again: replaced, like ln -sf
		t.Fatal(err)
	}
}
