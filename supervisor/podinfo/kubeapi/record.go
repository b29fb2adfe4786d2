package kubeapi

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// The upgrade record ([cluster.UpgradeRecords]) is one key per Doris
// cluster ("cluster-<ClusterId>") in one ConfigMap of the pods' namespace,
// UpgradeConfigMap, which nothing but doris-entrypoint writes. Not an
// annotation on the FE StatefulSet: the operator owns that object and
// patches it with its own desired state whenever the spec changes — which
// is exactly what an image upgrade is (apache/doris-operator
// pkg/common/utils/k8s/client.go ApplyStatefulSet), so a foreign annotation
// lives at the mercy of its patch strategy; a BE or CN pod would have to
// find another component's StatefulSet; and patch on statefulsets would let
// a pod change its own pod template. A ConfigMap of a fixed name keeps the
// Role narrow: get and update on that one name, and create (which
// Kubernetes cannot narrow to a name, and which never overwrites). Writes
// carry the resourceVersion read and retry on a conflict, so two pods
// writing at once lose nothing.

// UpgradeConfigMap is the ConfigMap that holds the upgrade records.
const UpgradeConfigMap = "doris-entrypoint-upgrade"

var _ cluster.UpgradeRecords = (*Client)(nil)

func (c *Client) getConfigMap(ctx context.Context) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := c.rc.Get().Namespace(c.ns).Resource("configmaps").Name(UpgradeConfigMap).Do(ctx).Into(cm); err != nil {
		return nil, err
	}
	return cm, nil
}

func (c *Client) recordErr(op string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s configmap %s/%s: forbidden (images/deploy/rbac.yaml: get, update and create on configmaps): %w",
			op, c.ns, UpgradeConfigMap, err)
	}
	return fmt.Errorf("%s configmap %s/%s: %w", op, c.ns, UpgradeConfigMap, err)
}

// GetUpgrade reads the record under key.
func (c *Client) GetUpgrade(ctx context.Context, key string) (string, bool, error) {
	if c == nil {
		return "", false, cluster.ErrNoRecords
	}
	cm, err := c.getConfigMap(ctx)
	if apierrors.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, c.recordErr("get", err)
	}
	data, ok := cm.Data[key]
	return data, ok, nil
}

// PutUpgrade writes the record under key, creating the ConfigMap when
// there is none.
func (c *Client) PutUpgrade(ctx context.Context, key, data string) error {
	return c.updateRecords(ctx, func(m map[string]string) bool { m[key] = data; return true }, true)
}

// DeleteUpgrade removes the record under key; the ConfigMap stays (delete
// is not in the Role).
func (c *Client) DeleteUpgrade(ctx context.Context, key string) error {
	return c.updateRecords(ctx, func(m map[string]string) bool {
		if _, ok := m[key]; !ok {
			return false
		}
		delete(m, key)
		return true
	}, false)
}

// recordBackoff spaces the retries of a write that met another one: a few
// pods at most write at once (upgrade begin/end, the FE supervisors never).
var recordBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.5, Cap: time.Second}

// updateRecords applies change to the ConfigMap's data (false: nothing to
// write) and writes it with the resourceVersion it read, again on a
// conflict.
func (c *Client) updateRecords(ctx context.Context, change func(map[string]string) bool, create bool) error {
	if c == nil {
		return cluster.ErrNoRecords
	}
	conflict := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retry.OnError(recordBackoff, conflict, func() error {
		cm, err := c.getConfigMap(ctx)
		switch {
		case apierrors.IsNotFound(err) && create:
			cm = &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{Name: UpgradeConfigMap, Namespace: c.ns,
					Labels: map[string]string{"app.kubernetes.io/managed-by": "doris-entrypoint"}}, Data: map[string]string{}}
			change(cm.Data)
			err := c.rc.Post().Namespace(c.ns).Resource("configmaps").Body(cm).Do(ctx).Error()
			if err != nil && !conflict(err) {
				return c.recordErr("create", err)
			}
			return err
		case apierrors.IsNotFound(err):
			return nil // nothing to remove
		case err != nil:
			return c.recordErr("get", err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if !change(cm.Data) {
			return nil
		}
		err = c.rc.Put().Namespace(c.ns).Resource("configmaps").Name(UpgradeConfigMap).Body(cm).Do(ctx).Error()
		if err != nil && !conflict(err) {
			return c.recordErr("update", err)
		}
		return err
	})
}
