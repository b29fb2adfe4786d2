package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/doris-entrypoint/cluster"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ordinalLabel is the pod-index label the StatefulSet controller sets
// (Kubernetes 1.28 on).
const ordinalLabel = "apps.kubernetes.io/pod-index"

// Placement reads the pod (its ownerReference and ordinal) and its
// StatefulSet (get on statefulsets in apps; images/deploy/rbac.yaml). A
// StatefulSet that is gone counts as being deleted.
func (c *Client) Placement(ctx context.Context) (cluster.Placement, error) {
	if c == nil {
		return cluster.Placement{}, fmt.Errorf("%w (DORIS_ENTRYPOINT_KUBE off, or no service-account token, POD_NAME or POD_NAMESPACE)", cluster.ErrNoAPI)
	}
	pod, err := c.fetch(ctx)
	if err != nil {
		return cluster.Placement{}, fmt.Errorf("get pod %s/%s: %w", c.ns, c.name, err)
	}
	var p cluster.Placement
	for _, o := range pod.OwnerReferences {
		if o.Kind == "StatefulSet" && strings.HasPrefix(o.APIVersion, "apps/") {
			p.StatefulSet = o.Name
		}
	}
	if p.StatefulSet == "" {
		return cluster.Placement{}, fmt.Errorf("pod %s/%s is not owned by a StatefulSet", c.ns, c.name)
	}
	ord := pod.Labels[ordinalLabel]
	if ord == "" {
		ord = strings.TrimPrefix(pod.Name, p.StatefulSet+"-")
	}
	if p.Ordinal, err = strconv.Atoi(ord); err != nil || p.Ordinal < 0 {
		return cluster.Placement{}, fmt.Errorf("pod %s/%s: no ordinal (%q)", c.ns, c.name, ord)
	}
	raw, err := c.rc.Get().AbsPath("/apis/apps/v1", "namespaces", c.ns, "statefulsets", p.StatefulSet).Do(ctx).Raw()
	if apierrors.IsNotFound(err) {
		p.Deleting = true
		return p, nil
	}
	if err != nil {
		return cluster.Placement{}, fmt.Errorf("get statefulset %s/%s: %w", c.ns, p.StatefulSet, err)
	}
	// Only the two fields read, so that PID 1 links none of apps/v1.
	var sts struct {
		Metadata struct {
			DeletionTimestamp *string `json:"deletionTimestamp"`
		} `json:"metadata"`
		Spec struct {
			Replicas *int32 `json:"replicas"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &sts); err != nil {
		return cluster.Placement{}, fmt.Errorf("statefulset %s/%s: %w", c.ns, p.StatefulSet, err)
	}
	p.Deleting = sts.Metadata.DeletionTimestamp != nil
	p.Replicas = 1
	if sts.Spec.Replicas != nil {
		p.Replicas = int(*sts.Spec.Replicas)
	}
	return p, nil
}
