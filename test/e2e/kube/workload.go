package kube

import (
	"bytes"
	_ "embed"
	"fmt"
	"path/filepath"
	"text/template"
)

//go:embed workload/operator-26.0.0.yaml.tmpl
var workloadTemplate string

var workloadTmpl = template.Must(template.New("operator").Parse(workloadTemplate))

// Workload is one component of a DorisCluster as the operator 26.0.0 makes
// it: a StatefulSet and its two Services (workload/operator-26.0.0.yaml.tmpl).
type Workload struct {
	Cluster     string            // the DorisCluster's name (default "doris")
	Comp        string            // fe, be or cn
	Name        string            // the StatefulSet and its Services' stem (default <Cluster>-<Comp>)
	Replicas    int               // the StatefulSet's replicas
	Tag         string            // the image tag (default Tag)
	Env         map[string]string // spec.<comp>.envVars
	ElectNumber int               // FE: spec.feSpec.electionNumber (default 3)
	ReadyPeriod int               // the readiness probe's periodSeconds (the operator's 5 unless set)
}

// Manifest renders the workload's objects for c (its fake-doris directory).
func (c *Cluster) Manifest(w Workload) (string, error) {
	if w.Cluster == "" {
		w.Cluster = "doris"
	}
	if w.Name == "" {
		w.Name = w.Cluster + "-" + w.Comp
	}
	if w.Tag == "" {
		w.Tag = Tag
	}
	if w.ElectNumber == 0 {
		w.ElectNumber = 3
	}
	if w.ReadyPeriod == 0 {
		w.ReadyPeriod = 5
	}
	v := map[string]any{"Cluster": w.Cluster, "Name": w.Name, "Comp": w.Comp, "Replicas": w.Replicas, "Env": w.Env, "ElectNumber": w.ElectNumber,
		"Namespace": Namespace, "ServiceAccount": ServiceAccount, "FakeDir": filepath.Join(c.Dir, "fake-doris"),
		"StorageClass": StorageClass, "ReadyPeriod": w.ReadyPeriod}
	// pod.go: FE 330 s, BE and CN 200 s (DEFAULT_*_TERMINATION_GRACE_PERIOD_SECONDS);
	// the probes' ports: query_port / heartbeat_service_port, http_port / webserver_port.
	switch w.Comp {
	case "fe":
		v["Script"], v["Grace"], v["LivePort"], v["HTTPPort"] = "fe", 330, 9030, 8030
		v["Storage"], v["StoragePath"] = "fe-meta", "/opt/apache-doris/fe/doris-meta"
		v["Image"] = Image("fe", w.Tag)
	case "be":
		v["Script"], v["Grace"], v["LivePort"], v["HTTPPort"] = "be", 200, 9050, 8040
		v["Storage"], v["StoragePath"] = "be-storage", "/opt/apache-doris/be/storage"
		v["Image"] = Image("be", w.Tag)
	case "cn":
		v["Script"], v["Grace"], v["LivePort"], v["HTTPPort"] = "be", 200, 9050, 8040
		v["ConfigMap"] = w.Name + "-conf"
		v["Image"] = Image("be", w.Tag)
	default:
		return "", fmt.Errorf("workload: unknown component %q (fe, be, cn)", w.Comp)
	}
	var b bytes.Buffer
	if err := workloadTmpl.Execute(&b, v); err != nil {
		return "", fmt.Errorf("workload %s: %w", w.Comp, err)
	}
	return b.String(), nil
}
