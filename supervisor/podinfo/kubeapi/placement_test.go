package kubeapi

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/cluster"
)

func TestPlacement(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(a interface{ SetStatefulSet(string, int32, bool) })
		want     cluster.Placement
		wantErr  string
		noOwner  bool
		podLabel string
	}{
		{name: "scaled below the ordinal", setup: func(a interface{ SetStatefulSet(string, int32, bool) }) { a.SetStatefulSet("be", 0, false) },
			want: cluster.Placement{StatefulSet: "be", Ordinal: 0, Replicas: 0}},
		{name: "kept", setup: func(a interface{ SetStatefulSet(string, int32, bool) }) { a.SetStatefulSet("be", 3, false) },
			want: cluster.Placement{StatefulSet: "be", Ordinal: 0, Replicas: 3}},
		{name: "being deleted", setup: func(a interface{ SetStatefulSet(string, int32, bool) }) { a.SetStatefulSet("be", 0, true) },
			want: cluster.Placement{StatefulSet: "be", Ordinal: 0, Replicas: 0, Deleting: true}},
		{name: "ordinal from the pod-index label", podLabel: "4",
			setup: func(a interface{ SetStatefulSet(string, int32, bool) }) { a.SetStatefulSet("be", 3, false) },
			want:  cluster.Placement{StatefulSet: "be", Ordinal: 4, Replicas: 3}},
		{name: "no StatefulSet owner", noOwner: true, wantErr: "not owned by a StatefulSet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rc := newAPI(t)
			if tt.setup != nil {
				tt.setup(a)
			}
			if tt.podLabel != "" {
				a.Pod.Labels = map[string]string{ordinalLabel: tt.podLabel}
			}
			c, err := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Placement(context.Background())
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Fatalf("Placement = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	t.Run("the StatefulSet is gone", func(t *testing.T) {
		a, rc := newAPI(t)
		a.SetStatefulSet("be", 3, false)
		delete(a.StatefulSets, "be")
		c, _ := New(Config{Mode: On, Namespace: "doris", Name: "be-0", REST: rc})
		if got, err := c.Placement(context.Background()); err != nil || !got.Deleting {
			t.Fatalf("Placement = %+v, %v; want Deleting", got, err)
		}
	})
}
