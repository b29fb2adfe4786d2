package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The scale-in record: `doris-entrypoint scale-in be --to N` writes which
// backends it decommissions, where the pods' start path reads it, so that
// a pod of those that restarts while the CLI waits (its ordinal is still
// below the StatefulSet's replicas: the person shrinks it only after) does
// not cancel the decommission a person asked for (leave.go (6)). It sits
// beside the upgrade records ([UpgradeRecords], one ConfigMap), under
// "scalein-<ClusterId>", and holds until Until: a CLI killed without a
// word leaves a record that ends by itself.

// ScaleInRecord says a scale-in by hand is under way.
type ScaleInRecord struct {
	ClusterID string    `json:"cluster_id"`
	Kind      string    `json:"kind"`
	To        int       `json:"to"`
	Backends  []string  `json:"backends"` // "host:heartbeat_port"
	BegunAt   time.Time `json:"begun_at"`
	Until     time.Time `json:"until"`
	BegunBy   string    `json:"begun_by,omitempty"` // the pod the CLI ran in
}

// ScaleInRecordKey is the record's key for a cluster.
func ScaleInRecordKey(clusterID string) (string, error) {
	if !validID.MatchString(clusterID) {
		return "", fmt.Errorf("cluster id %q is not a number", clusterID)
	}
	return "scalein-" + clusterID, nil
}

// Holds says the record keeps host:port decommissioned at now.
func (r *ScaleInRecord) Holds(host string, port int, now time.Time) bool {
	return r != nil && now.Before(r.Until) && slices.Contains(r.Backends, fmt.Sprintf("%s:%d", host, port))
}

// readScaleInRecord reads the record of clusterID; nil without one (or
// without a place for it).
func readScaleInRecord(ctx context.Context, recs UpgradeRecords, clusterID string) (*ScaleInRecord, error) {
	if recs == nil {
		return nil, ErrNoRecords
	}
	key, err := ScaleInRecordKey(clusterID)
	if err != nil {
		return nil, err
	}
	data, found, err := recs.GetUpgrade(ctx, key)
	if err != nil || !found {
		return nil, err
	}
	var rec ScaleInRecord
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return nil, fmt.Errorf("scale-in record %s: not JSON: %w", key, err)
	}
	if rec.ClusterID != clusterID {
		return nil, fmt.Errorf("scale-in record %s: cluster_id %q", key, rec.ClusterID)
	}
	return &rec, nil
}

func writeScaleInRecord(ctx context.Context, recs UpgradeRecords, rec ScaleInRecord) error {
	key, err := ScaleInRecordKey(rec.ClusterID)
	if err != nil {
		return err
	}
	return putJSON(ctx, recs, key, rec)
}

func deleteScaleInRecord(ctx context.Context, recs UpgradeRecords, clusterID string) error {
	key, err := ScaleInRecordKey(clusterID)
	if err != nil {
		return err
	}
	return deleteKey(ctx, recs, key)
}
