// Package layout holds the repository's layout to the rules README.md's
// Layout section states: imports run downward only (cmd → probes →
// supervisor/modes → {supervisor, supervisor/podinfo, confpatch, cluster}),
// no two top-level folders import each other, and cmd stays dispatch and
// wiring (at most 12 % of the non-test lines).
package layout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/apache/doris-entrypoint/"

// rank orders the product's packages: a package may import only packages of
// a lower or equal rank, and within a rank only along a non-circular path.
func rank(pkg string) int {
	switch {
	case strings.HasPrefix(pkg, "cmd/"):
		return 4
	case pkg == "probes" || strings.HasPrefix(pkg, "probes/"):
		return 3
	case pkg == "supervisor/modes" || strings.HasPrefix(pkg, "supervisor/modes/"):
		return 2
	}
	return 1 // supervisor, supervisor/podinfo, confpatch, cluster and their subpackages
}

func top(pkg string) string { t, _, _ := strings.Cut(pkg, "/"); return t }

type pkgInfo struct {
	ImportPath string
	Imports    []string
	GoFiles    []string
	Dir        string
}

// products lists the product's packages (everything but test/).
func products(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		p.ImportPath = strings.TrimPrefix(p.ImportPath, module)
		if top(p.ImportPath) != "test" {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

func TestImportsRunDownward(t *testing.T) {
	folders := map[string]map[string]bool{} // top-level folder -> folders it imports
	for _, p := range products(t) {
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(imp, module)
			if top(imp) == "test" {
				t.Errorf("%s imports %s: the product must not depend on test/", p.ImportPath, imp)
			}
			if rank(imp) > rank(p.ImportPath) {
				t.Errorf("%s imports %s, which is above it", p.ImportPath, imp)
			}
			if strings.HasPrefix(p.ImportPath, "supervisor") && top(imp) == "probes" {
				t.Errorf("%s imports %s: nothing under supervisor/ imports probes/", p.ImportPath, imp)
			}
			if a, b := top(p.ImportPath), top(imp); a != b {
				if folders[a] == nil {
					folders[a] = map[string]bool{}
				}
				folders[a][b] = true
			}
		}
	}
	// No circle between top-level folders.
	var visit func(f string, path []string)
	visit = func(f string, path []string) {
		for _, seen := range path {
			if seen == f {
				t.Errorf("top-level folders import each other: %s", strings.Join(append(path, f), " → "))
				return
			}
		}
		for g := range folders[f] {
			visit(g, append(path, f))
		}
	}
	for f := range folders {
		visit(f, nil)
	}
}

// countLines counts the lines of a package's non-test Go files.
func countLines(t *testing.T, p pkgInfo) int {
	t.Helper()
	n := 0
	for _, name := range p.GoFiles {
		f, err := os.Open(filepath.Join(p.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			n++
		}
		f.Close()
	}
	return n
}

func TestCmdIsWiring(t *testing.T) {
	var cmd, all int
	for _, p := range products(t) {
		n := countLines(t, p)
		all += n
		if top(p.ImportPath) == "cmd" {
			cmd += n
		}
	}
	t.Logf("cmd: %d of %d non-test lines (%.1f %%)", cmd, all, 100*float64(cmd)/float64(all))
	if cmd*100 > all*12 {
		t.Errorf("cmd is %d of %d non-test lines (%.1f %%): more than 12 %%; move decisions into the packages that own them", cmd, all, 100*float64(cmd)/float64(all))
	}
}
