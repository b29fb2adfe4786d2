package kube

import (
	"strings"
	"testing"
)

// The template renders for every component (the e2e applies it for real).
func TestManifestRenders(t *testing.T) {
	c := &Cluster{Dir: t.TempDir()}
	for _, comp := range []string{"fe", "be", "cn"} {
		m, err := c.Manifest(Workload{Comp: comp, Replicas: 2, Env: map[string]string{"A": "b c"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m, "kind: StatefulSet") || !strings.Contains(m, "podManagementPolicy: Parallel") {
			t.Fatalf("%s: no StatefulSet:\n%s", comp, m)
		}
	}
}
