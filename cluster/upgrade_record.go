package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// UpgradeRecords keeps the record that an upgrade is in progress, one per
// Doris cluster (key: [RecordKey]), somewhere that survives FE restarts and
// master changes: the three flags live in the master's memory only. The
// Kubernetes implementation is supervisor/podinfo/kubeapi (record.go): a
// ConfigMap of its own.
type UpgradeRecords interface {
	// GetUpgrade returns the record's data, and false when there is none.
	GetUpgrade(ctx context.Context, key string) (data string, found bool, err error)
	// PutUpgrade writes it.
	PutUpgrade(ctx context.Context, key, data string) error
	// DeleteUpgrade removes it; no record is no error.
	DeleteUpgrade(ctx context.Context, key string) error
}

// ErrNoRecords: no place to keep the record (no API access).
var ErrNoRecords = errors.New("no API access to keep the upgrade record (DORIS_ENTRYPOINT_KUBE off, no service-account token, " +
	"POD_NAME/POD_NAMESPACE unset, or images/deploy/rbac.yaml not applied)")

// UpgradeRecord says an upgrade is in progress: who began it, when, from
// which versions, to which.
type UpgradeRecord struct {
	ClusterID string            `json:"cluster_id"`
	BegunAt   time.Time         `json:"begun_at"`
	BegunBy   string            `json:"begun_by,omitempty"` // the pod `upgrade begin` ran in
	To        string            `json:"to,omitempty"`       // --to, when given
	From      map[string]string `json:"from"`               // kind → the versions it ran, "a, b"
}

// RecordKey is the record's key for a cluster: its ClusterId (SHOW
// FRONTENDS), so two Doris clusters in one namespace never share one, and a
// cluster built anew does not inherit a stale one.
func RecordKey(clusterID string) (string, error) {
	if !validID.MatchString(clusterID) {
		return "", fmt.Errorf("cluster id %q is not a number", clusterID)
	}
	return "cluster-" + clusterID, nil
}

// RecordState is what reading the record found.
type RecordState struct {
	Found   bool           `json:"found"`
	Record  *UpgradeRecord `json:"record,omitempty"`
	Corrupt string         `json:"corrupt,omitempty"` // why it cannot be read; Found is true
	Err     string         `json:"error,omitempty"`   // it could not be read at all: unknown
}

// known says whether it is known if an upgrade is recorded.
func (r RecordState) known() bool { return r.Err == "" }

func (r RecordState) String() string {
	switch {
	case r.Err != "":
		return "unknown: " + r.Err
	case r.Corrupt != "":
		return "present but unreadable (" + r.Corrupt + "); treated as an upgrade in progress: the flags are kept on"
	case !r.Found:
		return "none"
	}
	s := "since " + r.Record.BegunAt.UTC().Format(time.RFC3339)
	if r.Record.BegunBy != "" {
		s += ", begun in " + r.Record.BegunBy
	}
	if r.Record.To != "" {
		s += ", to " + r.Record.To
	}
	return s
}

// readRecord reads the record of clusterID.
func readRecord(ctx context.Context, recs UpgradeRecords, clusterID string) RecordState {
	if recs == nil {
		return RecordState{Err: ErrNoRecords.Error()}
	}
	key, err := RecordKey(clusterID)
	if err != nil {
		return RecordState{Err: err.Error()}
	}
	data, found, err := recs.GetUpgrade(ctx, key)
	switch {
	case err != nil:
		return RecordState{Err: "cannot read the upgrade record: " + err.Error()}
	case !found:
		return RecordState{}
	}
	var rec UpgradeRecord
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return RecordState{Found: true, Corrupt: "not JSON: " + err.Error()}
	}
	if rec.ClusterID != clusterID || rec.BegunAt.IsZero() {
		return RecordState{Found: true, Corrupt: fmt.Sprintf("cluster_id %q, begun_at %q", rec.ClusterID, rec.BegunAt.Format(time.RFC3339))}
	}
	return RecordState{Found: true, Record: &rec}
}

func writeRecord(ctx context.Context, recs UpgradeRecords, rec UpgradeRecord) error {
	key, err := RecordKey(rec.ClusterID)
	if err != nil {
		return err
	}
	return putJSON(ctx, recs, key, rec)
}

func deleteRecord(ctx context.Context, recs UpgradeRecords, clusterID string) error {
	key, err := RecordKey(clusterID)
	if err != nil {
		return err
	}
	return deleteKey(ctx, recs, key)
}

// putJSON writes v as JSON under key in recs (the upgrade and the scale-in
// records).
func putJSON(ctx context.Context, recs UpgradeRecords, key string, v any) error {
	if recs == nil {
		return ErrNoRecords
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return recs.PutUpgrade(ctx, key, string(b))
}

// deleteKey removes key from recs.
func deleteKey(ctx context.Context, recs UpgradeRecords, key string) error {
	if recs == nil {
		return ErrNoRecords
	}
	return recs.DeleteUpgrade(ctx, key)
}
