package fakedoris

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
)

// The stand-in's version files are what cluster's own detection reads
// (Version.class in fe/lib/doris-fe.jar, be/lib/doris_be --version), with
// the constants a real build's Version.class has (DORIS_BUILD_VERSION
// carries the prefix: apache/doris gensrc/script/gen_build_version.sh),
// and @@version_comment round-trips to the Version column.
func TestVersionFiles(t *testing.T) {
	for _, tt := range []struct {
		version, be string
		consts      map[string]string // of Version.class
		comment     string
	}{
		{DefaultVersion, "doris-2.1.5-rc02", map[string]string{"DORIS_BUILD_VERSION_PREFIX": "doris",
			"DORIS_BUILD_VERSION": "doris-2.1.5-rc02", "DORIS_BUILD_VERSION_RC_VERSION": "rc02", "DORIS_BUILD_SHORT_HASH": "d5a02e095d"},
			"Doris version doris-2.1.5-rc02-d5a02e095d"},
		{"doris-2.1.6-rc01-0123456789", "doris-2.1.6-rc01", map[string]string{"DORIS_BUILD_VERSION": "doris-2.1.6-rc01"},
			"Doris version doris-2.1.6-rc01-0123456789"},
		{"doris-3.0.3", "doris-3.0.3", map[string]string{"DORIS_BUILD_VERSION_PREFIX": "doris", "DORIS_BUILD_VERSION": "doris-3.0.3",
			"DORIS_BUILD_SHORT_HASH": ""}, "Doris version doris-3.0.3"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			if got := versionComment(tt.version); got != tt.comment {
				t.Errorf("version_comment %q, want %q", got, tt.comment)
			}
			if got := versionFromComment(versionComment(tt.version)); got != tt.version {
				t.Errorf("version_comment %q → %q", versionComment(tt.version), got)
			}
			consts := classStrings(t, VersionClass(tt.version))
			for k, want := range tt.consts {
				if got, ok := consts[k]; !ok || got != want {
					t.Errorf("Version.class %s = %q (%v), want %q", k, got, ok, want)
				}
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

// classStrings reads the String constants of a class file's fields
// (JVMS §4.4, §4.5: the constant pool, then each field's ConstantValue).
func classStrings(t *testing.T, class []byte) map[string]string {
	t.Helper()
	r := bytes.NewReader(class)
	u2 := func() uint16 { var v uint16; binary.Read(r, binary.BigEndian, &v); return v }
	r.Seek(8, io.SeekStart)
	count := u2()
	utf8, strs := map[uint16]string{}, map[uint16]uint16{}
	for i := uint16(1); i < count; i++ {
		switch tag, _ := r.ReadByte(); tag {
		case 1:
			b := make([]byte, u2())
			io.ReadFull(r, b)
			utf8[i] = string(b)
		case 8:
			strs[i] = u2()
		case 7:
			u2()
		case 3:
			r.Seek(4, io.SeekCurrent)
		default:
			t.Fatalf("constant pool tag %d", tag)
		}
	}
	r.Seek(6, io.SeekCurrent)
	r.Seek(int64(u2())*2, io.SeekCurrent)
	out := map[string]string{}
	for n := u2(); n > 0; n-- {
		u2()
		name := utf8[u2()]
		u2()
		for a := u2(); a > 0; a-- {
			u2()
			var l uint32
			binary.Read(r, binary.BigEndian, &l)
			if s, ok := strs[u2()]; ok && l == 2 {
				out[name] = utf8[s]
			}
		}
	}
	return out
}
