package confpatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Linked says what LinkConfigMap did with one file.
type Linked struct {
	Name   string
	Copied bool   // copied rather than linked (so it stays writable)
	Backup string // where the file that was there went, if any
}

// LinkConfigMap puts every file of the ConfigMap mount dir into confDir, as
// fe_entrypoint.sh / be_entrypoint.sh do: what was there is renamed to
// <name>.bak, then the file is symlinked — or copied, for the names in
// copy (be.conf, so that it stays writable). A missing dir does nothing.
// Dot entries (kubelet's ..data and timestamp dirs) and directories are
// skipped.
func LinkConfigMap(dir, confDir string, copy map[string]bool) ([]Linked, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %s: %w", dir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []Linked
	for _, e := range entries {
		name := e.Name()
		src := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		if fi, err := os.Stat(src); err != nil || fi.IsDir() {
			continue
		}
		dst := filepath.Join(confDir, name)
		l := Linked{Name: name, Copied: copy[name]}
		if _, err := os.Lstat(dst); err == nil {
			l.Backup = dst + ".bak"
			if err := os.Rename(dst, l.Backup); err != nil {
				return out, fmt.Errorf("configmap: keep %s: %w", dst, err)
			}
		}
		if l.Copied {
			data, err := os.ReadFile(src)
			if err != nil {
				return out, fmt.Errorf("configmap: %w", err)
			}
			if err := writeAtomic(dst, data, newMeta(0o644)); err != nil {
				return out, fmt.Errorf("configmap: copy %s: %w", name, err)
			}
		} else if err := symlinkAtomic(src, dst); err != nil {
			return out, fmt.Errorf("configmap: link %s: %w", name, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// EnsureValue makes conf set key to value unless it sets key already (to
// anything): it appends "key = value", as the entrypoints do for
// enable_fqdn_mode, keeping the conf's mode, owner and extended attributes.
// A conf that is a symlink (into a read-only ConfigMap mount) is first
// replaced by a writable copy; copied reports that.
func EnsureValue(conf, key, value string) (appended, copied bool, err error) {
	data, err := os.ReadFile(conf)
	if err != nil {
		return false, false, err
	}
	syntax := SyntaxOf(conf)
	if _, ok := syntax.Value(data, key); ok {
		return false, false, nil
	}
	fi, err := os.Lstat(conf)
	if err != nil {
		return false, false, err
	}
	copied = fi.Mode()&fs.ModeSymlink != 0
	m := newMeta(0o644)
	if !copied {
		if m, err = metaOf(conf); err != nil {
			return false, false, err
		}
	}
	out := syntax.appendLines(append([]byte(nil), data...), key+" = "+value)
	if err := writeAtomic(conf, out, m); err != nil {
		return false, copied, fmt.Errorf("%s: add %s: %w", conf, key, err)
	}
	return true, copied, nil
}

// LinkFiles symlinks every file of srcDir into dstDir (created if needed),
// replacing what is there, as `ln -sf src/* dst/` does in the entrypoints
// for Kerberos configuration and keytabs. Dot entries are skipped.
func LinkFiles(srcDir, dstDir string) ([]string, error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		src := filepath.Join(srcDir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := os.Stat(src); err != nil || fi.IsDir() {
			continue
		}
		if err := symlinkAtomic(src, filepath.Join(dstDir, e.Name())); err != nil {
			return out, err
		}
		out = append(out, e.Name())
	}
	return out, nil
}
