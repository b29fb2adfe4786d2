package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
)

func recordClient(t *testing.T) (*Client, func() (map[string]string, bool), func(bool)) {
	t.Helper()
	a, rc := newAPI(t)
	c, err := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
	if err != nil || c == nil {
		t.Fatalf("New: %v %v", c, err)
	}
	forbid := func(v bool) { a.Mu.Lock(); a.ForbidConfigMaps = v; a.Mu.Unlock() }
	return c, func() (map[string]string, bool) { return a.ConfigMapData(UpgradeConfigMap) }, forbid
}

// The records: none at first, a put creates the ConfigMap, keys of other
// clusters stay, a delete removes only its key, concurrent writers lose
// nothing (resourceVersion, retried on a conflict).
func TestUpgradeRecords(t *testing.T) {
	ctx := context.Background()
	c, data, _ := recordClient(t)
	if _, found, err := c.GetUpgrade(ctx, "cluster-1"); found || err != nil {
		t.Fatalf("before: %v %v", found, err)
	}
	if err := c.DeleteUpgrade(ctx, "cluster-1"); err != nil {
		t.Fatalf("delete of nothing: %v", err)
	}
	if err := c.PutUpgrade(ctx, "cluster-1", `{"a":1}`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 2; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.PutUpgrade(ctx, fmt.Sprintf("cluster-%d", i), "x")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v, found, err := c.GetUpgrade(ctx, "cluster-1"); !found || err != nil || v != `{"a":1}` {
		t.Fatalf("get: %q %v %v", v, found, err)
	}
	if err := c.DeleteUpgrade(ctx, "cluster-1"); err != nil {
		t.Fatal(err)
	}
	m, ok := data()
	if !ok || len(m) != 8 || m["cluster-1"] != "" {
		t.Errorf("ConfigMap data %v (exists %v), want cluster-2..9", m, ok)
	}
}

// Forbidden names the Role to apply; no client is ErrNoRecords.
func TestUpgradeRecordsWithoutAccess(t *testing.T) {
	ctx := context.Background()
	c, _, forbid := recordClient(t)
	forbid(true)
	for name, err := range map[string]error{
		"get": func() error { _, _, err := c.GetUpgrade(ctx, "cluster-1"); return err }(),
		"put": c.PutUpgrade(ctx, "cluster-1", "x"),
	} {
		if err == nil || !strings.Contains(err.Error(), "images/deploy/rbac.yaml") {
			t.Errorf("%s: %v", name, err)
		}
	}
	var none *Client
	if _, _, err := none.GetUpgrade(ctx, "k"); !errors.Is(err, cluster.ErrNoRecords) {
		t.Errorf("nil client: %v", err)
	}
}
