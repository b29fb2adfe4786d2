package main

import (
	"context"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
	"go.uber.org/zap"
)

var (
	envKube         = envVar{"DORIS_ENTRYPOINT_KUBE", "auto", "watch the own pod and record Events through the API: on, off, or auto (when a service-account token is mounted)"}
	envPodName      = envVar{"POD_NAME", "", "operator: this pod's name, for the pod watch and its Events"}
	envPodNamespace = envVar{"POD_NAMESPACE", "", "operator: this pod's namespace"}
)

// startKube starts the pod watch, which feeds the annotations into watcher
// beside the downward-API file; nil when the API is off, out of reach, or
// not configured (one log line says why, except outside a cluster).
func startKube(ctx context.Context, getenv lookupEnv, watcher *podinfo.Watcher, log *zap.Logger) *kubeapi.Client {
	ns, name := stringEnv(getenv, envPodNamespace), stringEnv(getenv, envPodName)
	kc, err := kubeapi.New(kubeapi.Config{Mode: stringEnv(getenv, envKube), Namespace: ns, Name: name, Logger: log})
	if err != nil {
		log.Warn("no pod watch: the downward-API file alone sets the mode", zap.String("env", envKube.name), zap.Error(err))
		return nil
	}
	if kc == nil {
		return nil
	}
	log.Info("watching the pod through the API", zap.String("pod", ns+"/"+name))
	go kc.Watch(ctx, func(ann map[string]string) { watcher.Feed("api", ann) })
	return kc
}
