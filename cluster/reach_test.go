package cluster_test

import (
	"context"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/testport"
)

// Reached tells "nobody accepted the connection" from every answer.
func TestReached(t *testing.T) {
	notReady := fakedoris.NewCluster(fakedoris.Layout21)
	notReady.SetCatalogNotReady(true)
	denied := fakedoris.NewCluster(fakedoris.Layout21)
	denied.SetPassword("root", "root-Secret-0")
	noCols := fakedoris.NewCluster(fakedoris.Layout21)
	noCols.SetFrontendColumns([]string{"Name"})
	for _, tt := range []struct {
		name    string
		addr    string
		reached bool
	}{
		{"refused", testport.Closed(t), false},
		{"catalog not ready", fakedoris.ServeT(t, notReady, "fe-0"), true},
		{"access denied", fakedoris.ServeT(t, denied, "fe-0"), true},
		{"no IsMaster column", fakedoris.ServeT(t, noCols, "fe-0"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&cluster.Client{}).ShowFrontends(context.Background(), tt.addr)
			if err == nil || cluster.Reached(err) != tt.reached {
				t.Fatalf("err %v: Reached = %v, want %v", err, cluster.Reached(err), tt.reached)
			}
		})
	}
}
